"""The instructor side of the course: a term with nbgrader, from release to the LMS.

``python -m autograder`` (:mod:`autograder.cli`) is the command line; the modules here are what it is
made of, one concept each:

* :mod:`.layout`: the nbgrader course folder, how ``solutions/`` maps onto it, and its lock;
* :mod:`.term`: the term file (due date, late policy, extensions, parts, LMS names);
* :mod:`.nbgrader_run`: running nbgrader's own commands against a course folder;
* :mod:`.build` and :mod:`.release`: ``solutions/src/*.py`` -> ``solutions/*.ipynb`` -> ``notebooks/``;
* :mod:`.submissions` and :mod:`.timestamps`: a folder of submissions, and their times, into
  nbgrader's ``submitted/`` layout;
* :mod:`.gradescope_import`: Gradescope's "Export Submissions" -> that folder of submissions;
* :mod:`.late`: late penalties through nbgrader's late-penalty plugin;
* :mod:`.regions`: solution and hidden-test regions of a source notebook;
* :mod:`.hidden_map` and :mod:`.hidden_scores`: the hidden autograder's scores as the scores of
  nbgrader's test cells (one score per part);
* :mod:`.workspace`, :mod:`.gradebook`, :mod:`.commit` and :mod:`.autograde`: students graded in
  parallel, nbgrader in private copies, one process writing the gradebook;
* :mod:`.freshness`: fingerprints, and whether the gradebook's scores are current;
* :mod:`.nbgrader_log`: nbgrader's log in a few lines;
* :mod:`.export` and :mod:`.lms`: the grades CSV, and the Canvas and Moodle files.
"""
