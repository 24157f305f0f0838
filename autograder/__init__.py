"""The dlcore autograder: hidden tests run against student notebooks in a sandbox."""
