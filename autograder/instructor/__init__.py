"""The instructor side of the course: release, collect, autograde, feedback and export with nbgrader.

``python -m autograder.course`` is the command line; the modules here are what it is made of:

* :mod:`.layout`: the nbgrader course folder and how ``solutions/`` maps onto it;
* :mod:`.nbgrader_run`: running nbgrader's own commands against that folder;
* :mod:`.release`: ``solutions/*.ipynb`` -> ``notebooks/*.ipynb``;
* :mod:`.submissions`: a folder of student submissions -> nbgrader's ``submitted/`` layout;
* :mod:`.regions`: solution and hidden-test regions of a source notebook;
* :mod:`.feedback`: the feedback preprocessor that hides hidden tests, tracebacks included;
* :mod:`.hidden_map` and :mod:`.hidden_scores`: the hidden autograder's scores as the scores of
  nbgrader's test cells (one score per part).
"""
