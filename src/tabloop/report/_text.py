"""How a table reads wherever it is drawn: terminal output, the dashboard, the HTML reports."""

#: The width terminal output is laid out for: every line tabloop prints fits 80 columns.
TERMINAL_WIDTH = 80
#: A table cell without a value (an en dash, never ``nan`` or ``None``).
MISSING = "–"
