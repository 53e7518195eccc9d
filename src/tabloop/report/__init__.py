"""Self-contained HTML reports with charts, shared by profile, evaluation and monitoring."""

from tabloop.report._charts import PALETTE
from tabloop.report._evaluation_page import render_evaluation
from tabloop.report._monitor_page import render_monitor
from tabloop.report._page import Chart, Page, Section, Table, Text, render_page, save_report
from tabloop.report._profile_page import HEATMAP_COLUMNS, build_profile_page, render_profile
from tabloop.report._retrain_page import render_retrain
from tabloop.report._text import MISSING, TERMINAL_WIDTH

__all__ = [
    "Chart",
    "HEATMAP_COLUMNS",
    "MISSING",
    "PALETTE",
    "Page",
    "Section",
    "TERMINAL_WIDTH",
    "Table",
    "Text",
    "build_profile_page",
    "render_evaluation",
    "render_monitor",
    "render_page",
    "render_profile",
    "render_retrain",
    "save_report",
]
