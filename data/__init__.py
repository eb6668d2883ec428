"""ponder.data: problems, loaders, step splitting, answer extraction and grading.

Keep these imports light: every grading worker process imports this package.
"""

from .answers import STEP_SEPARATOR, extract_boxed, split_steps
from .grading import grade, grade_many
from .loaders import DatasetError, load_problems, save_problems
from .problem import Problem

__all__ = [
    "STEP_SEPARATOR",
    "DatasetError",
    "Problem",
    "extract_boxed",
    "grade",
    "grade_many",
    "load_problems",
    "save_problems",
    "split_steps",
]
