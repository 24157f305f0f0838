"""Running student code confined: ``launcher`` (grader side) starts ``runner`` (sandbox side)."""
