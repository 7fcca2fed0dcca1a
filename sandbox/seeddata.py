"""Realistic, fictional people for the sandbox: practices, users, practitioners, patients."""

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from sandbox.models import Patient, Practice, Practitioner, User, new_id

PRACTICES = [
    ("pra-sbx-maple", "Maple Street Family Medicine"),
    ("pra-sbx-riverside", "Riverside Direct Primary Care"),
]
PRACTITIONERS = {
    "pra-sbx-maple": ["Dr. Helen Okafor", "Dr. Marcus Lindqvist", "Priya Raman, NP"],
    "pra-sbx-riverside": ["Dr. Samuel Ortiz", "Dr. Grace Whitfield", "Jordan Blake, PA-C"],
}
# (hint id, first, last, email, partner_roles, access_context)
USERS = [
    ("user-sbx-admin", "Avery", "Stone", "avery.stone@example.com", ["admin"], "standard"),
    ("user-sbx-clinician", "Dana", "Reyes", "dana.reyes@example.com", ["clinician"], "standard"),
    ("user-sbx-staff", "Sam", "Patel", "sam.patel@example.com", ["staff"], "standard"),
    (
        "user-sbx-multi",
        "Morgan",
        "Lee",
        "morgan.lee@example.com",
        ["admin", "clinician"],
        "standard",
    ),
    ("user-sbx-norole", "Casey", "Nguyen", "casey.nguyen@example.com", [], "standard"),
    ("user-sbx-support", "Hint", "Support", "support@hint.example.com", [], "platform_support"),
]

FIRST_F = [
    "Olivia",
    "Emma",
    "Ava",
    "Sophia",
    "Isabella",
    "Mia",
    "Amelia",
    "Harper",
    "Evelyn",
    "Abigail",
    "Emily",
    "Ella",
    "Elizabeth",
    "Camila",
    "Luna",
    "Sofia",
    "Avery",
    "Mila",
    "Aria",
    "Scarlett",
    "Penelope",
    "Layla",
    "Chloe",
    "Victoria",
    "Madison",
    "Eleanor",
    "Grace",
    "Nora",
    "Riley",
    "Zoey",
    "Hannah",
    "Hazel",
    "Lily",
    "Ellie",
    "Violet",
    "Lillian",
    "Zoe",
    "Stella",
    "Aurora",
    "Natalie",
    "Emilia",
    "Everly",
    "Leah",
    "Aubrey",
    "Willow",
    "Addison",
    "Lucy",
    "Audrey",
    "Bella",
    "Nova",
    "Maria",
    "Fatima",
    "Mei",
    "Aisha",
    "Ingrid",
    "Lucia",
]
FIRST_M = [
    "Liam",
    "Noah",
    "Oliver",
    "Elijah",
    "James",
    "William",
    "Benjamin",
    "Lucas",
    "Henry",
    "Theodore",
    "Jack",
    "Levi",
    "Alexander",
    "Jackson",
    "Mateo",
    "Daniel",
    "Michael",
    "Mason",
    "Sebastian",
    "Ethan",
    "Logan",
    "Owen",
    "Samuel",
    "Jacob",
    "Asher",
    "Aiden",
    "John",
    "Joseph",
    "Wyatt",
    "David",
    "Leo",
    "Luke",
    "Julian",
    "Hudson",
    "Grayson",
    "Matthew",
    "Ezra",
    "Gabriel",
    "Carter",
    "Isaac",
    "Jayden",
    "Luca",
    "Anthony",
    "Dylan",
    "Lincoln",
    "Thomas",
    "Maverick",
    "Elias",
    "Josiah",
    "Charles",
    "Omar",
    "Hiroshi",
    "Kwame",
    "Rafael",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "O'Brien",
    "Nakamura",
    "Okafor",
    "Schmidt",
    "Kowalski",
]
STREETS = [
    "Maple",
    "Oak",
    "Pine",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Main",
    "Sunset",
    "Lincoln",
    "Jackson",
    "Highland",
    "Ridge",
    "Willow",
    "Meadow",
    "Forest",
    "River",
    "Church",
    "Spring",
    "Chestnut",
    "Walnut",
    "Cherry",
]
STREET_KINDS = ("St", "Ave", "Rd", "Ln", "Dr", "Ct", "Way", "Blvd")
CITIES = [
    ("Denver", "CO", "802"),
    ("Boulder", "CO", "803"),
    ("Austin", "TX", "787"),
    ("Portland", "OR", "972"),
    ("Madison", "WI", "537"),
    ("Asheville", "NC", "288"),
    ("Raleigh", "NC", "276"),
    ("Tucson", "AZ", "857"),
    ("Boise", "ID", "837"),
    ("Burlington", "VT", "054"),
]
PAYERS = [
    ("Aetna", "60054"),
    ("Blue Cross Blue Shield", "00590"),
    ("Cigna", "62308"),
    ("UnitedHealthcare", "87726"),
    ("Humana", "61101"),
    ("Kaiser Permanente", "94134"),
    ("", ""),
    ("", ""),
]
# Hint's list: man, woman, trans man, trans woman, nonbinary, not listed (+ gender_other).
GENDER_IDENTITIES = {"female": ["woman", "woman", "woman", ""], "male": ["man", "man", "man", ""]}


def _phone(rng: random.Random) -> str:
    # 555-01xx numbers are reserved for fiction.
    return f"({rng.randint(201, 989)}) 555-01{rng.randint(0, 99):02d}"


def random_patient_fields(rng: random.Random | None = None, n: int = 0) -> dict[str, Any]:
    """One fictional patient's fields, in the Provider API's names."""
    rng = rng or random.Random()
    sex = rng.choice(("female", "male", "female", "male", "intersex"))
    first = rng.choice(
        FIRST_F if sex == "female" else FIRST_M if sex == "male" else FIRST_F + FIRST_M
    )
    last = rng.choice(LAST)
    city, state, zip3 = rng.choice(CITIES)
    payer, payer_id = rng.choice(PAYERS)
    dob = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 83))
    phones = [{"type": "mobile", "number": _phone(rng), "us_formattable": True}]
    if rng.random() < 0.25:
        phones.append({"type": "home", "number": _phone(rng), "us_formattable": True})
    if rng.random() < 0.1:
        phones.append({"type": "office", "number": _phone(rng), "us_formattable": True})
    identity = rng.choice(GENDER_IDENTITIES.get(sex, ["nonbinary", ""]))
    if rng.random() < 0.03:
        identity = "nonbinary"
    street = rng.choice(STREETS)
    clean_last = "".join(c for c in last.lower() if c.isalpha())
    return {
        "title": rng.choice(("", "", "", "Mr." if sex == "male" else "Ms.", "Dr.", "Mx.")),
        "first_name": first,
        "middle_name": rng.choice(FIRST_F + FIRST_M) if rng.random() < 0.3 else "",
        "last_name": last,
        "chosen_first_name": first[:3] if rng.random() < 0.05 else "",
        "dob": dob.isoformat(),
        "sex": sex,
        "gender_identity": identity,
        "gender_other": "",
        "pronouns": "",
        "preferred_language": "en",
        "email": f"{first.lower()}.{clean_last}{n or rng.randint(1, 9999)}@example.com",
        "phones": phones,
        "address_line1": f"{rng.randint(10, 9999)} {street} {rng.choice(STREET_KINDS)}",
        "address_line2": rng.choice(("", "", "", f"Apt {rng.randint(1, 40)}")),
        "address_city": city,
        "address_state": state,
        "address_zip": f"{zip3}{rng.randint(10, 99)}",
        "address_country": "US",
        "health_insurance_payer_name": payer,
        "health_insurance_payer_id": payer_id,
        "health_insurance_group_id": f"G{rng.randint(10000, 99999)}" if payer else "",
        "health_insurance_member_id": f"M{rng.randint(10**8, 10**9 - 1)}" if payer else "",
    }


def _patient_values(
    practice: Practice, practitioners: list[Practitioner], rng: random.Random, n: int
) -> dict[str, Any]:
    fields = random_patient_fields(rng, n)
    created = datetime(2022, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 60 * 24 * 1000))
    hipaa = rng.random() < 0.85
    agreement = rng.random() < 0.8
    fields.update(
        practice_id=practice.pk,
        hint_id=new_id("pat"),
        dob=date.fromisoformat(fields["dob"]),
        suffix="",
        practitioner_id=rng.choice(practitioners).pk if practitioners else None,
        hipaa_authorization_accepted=hipaa,
        hipaa_authorization_accepted_at=created + timedelta(days=1) if hipaa else None,
        patient_agreement_accepted=agreement,
        patient_agreement_accepted_at=created + timedelta(days=2) if agreement else None,
        membership_status=rng.choice(("active",) * 8 + ("pending", "paused")),
        archived=False,
        integration_record_id="",
        integration_web_link="",
        integration_error_message="",
        integration_sync_status="unsynced",
        integration_last_synced_at=None,
        created_at=created,
        updated_at=created + timedelta(days=rng.randint(0, 300)),
    )
    return fields


def _sqlite_value(value: Any) -> Any:
    # What Django's SQLite backend stores: naive UTC text for datetimes, JSON text for lists.
    if isinstance(value, datetime):
        return str(value.astimezone(UTC).replace(tzinfo=None))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value)
    return value


def patients_bulk_create(*, practice: Practice, count: int, seed: int | None = None) -> int:
    """Create `count` fictional patients fast: one executemany on SQLite, bulk_create elsewhere
    (100,000 in well under a minute)."""
    rng = random.Random(seed)
    practitioners = list(practice.practitioners.all())
    start = Patient.objects.filter(practice=practice).count()
    columns = [f.attname for f in Patient._meta.concrete_fields if not f.primary_key]
    made = 0
    with transaction.atomic():
        for offset in range(0, count, 5000):
            chunk = [
                _patient_values(practice, practitioners, rng, start + i + 1)
                for i in range(offset, min(count, offset + 5000))
            ]
            if connection.vendor == "sqlite":
                table = connection.ops.quote_name(Patient._meta.db_table)
                names = ", ".join(connection.ops.quote_name(c) for c in columns)
                marks = ", ".join(["%s"] * len(columns))
                with connection.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 - our names
                        [tuple(_sqlite_value(v[c]) for c in columns) for v in chunk],
                    )
            else:
                Patient.objects.bulk_create([Patient(**v) for v in chunk], batch_size=1000)
            made += len(chunk)
    return made


def practice_ensure(*, hint_id: str, name: str = "") -> Practice:
    """The practice `hint_id` with its practitioners, created when missing."""
    practice, created = Practice.objects.get_or_create(
        hint_id=hint_id, defaults={"name": name or hint_id}
    )
    if created or not practice.practitioners.exists():
        names = PRACTITIONERS.get(hint_id) or ["Dr. Alex Morgan", "Dr. Riley Chen"]
        Practitioner.objects.bulk_create(
            [Practitioner(practice=practice, hint_id=new_id("pct"), name=n) for n in names]
        )
    return practice


def seed_default(*, patients_per_practice: int = 50) -> None:
    """Two practices with ~50 patients each, and the six users of the user switcher."""
    for position, (hint_id, first, last, email, roles, context) in enumerate(USERS):
        User.objects.update_or_create(
            hint_id=hint_id,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": email,
                "partner_roles": roles,
                "access_context": context,
                "position": position,
            },
        )
    for index, (hint_id, name) in enumerate(PRACTICES):
        practice = practice_ensure(hint_id=hint_id, name=name)
        missing = patients_per_practice - Patient.objects.filter(practice=practice).count()
        if missing > 0:
            patients_bulk_create(practice=practice, count=missing, seed=1000 + index)
