"""The scriptflow command-line client: commands that talk to any scriptflow server over HTTP."""
