"""Load tables (the project's training table too), infer and validate schemas, split, profile."""

from tabloop.data._load import load_data, load_sql, read_chunks
from tabloop.data._pieces import (
    PIECE_ROWS,
    Piece,
    estimate_table_size,
    find_data_files,
    plan_pieces,
)
from tabloop.data._predictive import single_feature_power, text_vectorizer
from tabloop.data._profile import Profile, profile
from tabloop.data._reference import ReferenceProfile
from tabloop.data._schema import COLUMN_KINDS, ColumnSchema, Schema, infer_schema
from tabloop.data._sentinels import likely_codes, missing_values_items
from tabloop.data._split import SPLIT_STRATEGIES, TrainTest, check_target, split
from tabloop.data._task import TASKS, infer_task, positive_label
from tabloop.data._training import check_training_columns, load_training_data
from tabloop.data._validate import Problem, ValidationReport, validate

__all__ = [
    "COLUMN_KINDS",
    "ColumnSchema",
    "PIECE_ROWS",
    "Piece",
    "Problem",
    "Profile",
    "ReferenceProfile",
    "SPLIT_STRATEGIES",
    "Schema",
    "TASKS",
    "TrainTest",
    "ValidationReport",
    "check_target",
    "check_training_columns",
    "estimate_table_size",
    "find_data_files",
    "infer_schema",
    "infer_task",
    "likely_codes",
    "load_data",
    "load_sql",
    "load_training_data",
    "missing_values_items",
    "plan_pieces",
    "positive_label",
    "profile",
    "read_chunks",
    "single_feature_power",
    "split",
    "text_vectorizer",
    "validate",
]
