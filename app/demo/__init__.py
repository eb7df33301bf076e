"""The `scriptflow demo` command and the small web site its runs are aimed at."""
