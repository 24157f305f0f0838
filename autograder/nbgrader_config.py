"""nbgrader configuration of the dlcore course (loaded by the course folder's nbgrader_config.py).

Source notebooks are ``solutions/*.ipynb``; ``python -m autograder`` copies them into a course
folder (``autograder/course/`` by default) as assignment ``dlcore`` and runs nbgrader there, with
this repository on ``PYTHONPATH`` (nbgrader imports the jailed kernel manager from it; to run
``nbgrader`` by hand in the course folder, set ``PYTHONPATH`` to the repository), and ``release``
writes what nbgrader generates into ``notebooks/``. See autograder/README.md.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
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
# Every kernel that executes a student's notebook runs in a bubblewrap jail (autograder/sandbox/kernel.py):
# no network, an unprivileged uid, no view of source/, submitted/, the gradebook or other students.
c.Execute.kernel_manager_class = "autograder.sandbox.kernel.JailedKernelManager"

# Late submissions: nbgrader compares each submission's timestamp.txt with the assignment's due date and
# asks this plugin for each notebook's penalty; the policy is the term file's (autograder/term.toml, or
# $DLCORE_TERM). python -m autograder recomputes the penalties whenever scores change (autograder/instructor/late.py).
c.AssignLatePenalties.plugin_class = "autograder.instructor.late.LatePolicy"
