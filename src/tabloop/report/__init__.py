"""Self-contained HTML reports with charts, shared by profile, evaluation and monitoring."""

from tabloop.report._page import Chart, Page, Section, Table, Text, render_page
from tabloop.report._profile_page import build_profile_page, render_profile

__all__ = [
    "Chart",
    "Page",
    "Section",
    "Table",
    "Text",
    "build_profile_page",
    "render_page",
    "render_profile",
]
