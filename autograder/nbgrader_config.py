"""nbgrader configuration of the dlcore course (loaded by the course folder's nbgrader_config.py).

Source notebooks are ``solutions/*.ipynb``; ``python -m autograder.course`` copies them into a
course folder (``autograder/course/`` by default) as assignment ``dlcore`` and runs nbgrader there,
and ``release`` writes what nbgrader generates into ``notebooks/``. See autograder/README.md.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # nbgrader runs in the course folder; the preprocessor lives here
    sys.path.insert(0, str(REPO))

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from autograder.instructor.feedback import HideHiddenTests  # noqa: E402

c = get_config()  # noqa: F821

c.CourseDirectory.root = str(REPO / "autograder" / "course")  # the course stub overrides it

# Grading executes notebooks with DLCORE_QUICK=1 (unless set otherwise): the `long-running` MNIST
# cells then train briefly and only have to run; the MNIST error targets are graded separately.
os.environ.setdefault("DLCORE_QUICK", "1")

# Every cell of a submission gets at most this many seconds, then counts as failed (nbgrader's
# Execute preprocessor interrupts the kernel and records a CellTimeoutError).
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Students' stubs, and the code cells that must stay unchanged. The message is what a student sees
# (as one line, see dlcore/notebook_errors.py) when a test runs before the answer is written.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("not written yet: replace this line with your code")',
}
c.ClearHiddenTests.enabled = True

# Feedback: hidden tests and the tracebacks that quote them are removed before the HTML is made.
c.GenerateFeedback.preprocessors = [HideHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]
