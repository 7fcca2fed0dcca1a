"""Text cells of our CSV downloads, safe to open in a spreadsheet."""

# A cell starting with one of these is read as a formula by Excel, LibreOffice or Sheets (OWASP's
# CSV injection list); a leading quote makes it text again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value: str) -> str:
    """Neutralise a spreadsheet formula in exported text."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value
