"""The scriptflow test suite.

Set before anything imports scriptflow: the suite signs up hundreds of users, and argon2id at
its standard cost (64 MiB, 3 passes) would spend minutes hashing their passwords. The fast
profile is still argon2id; `tests/auth/test_passwords.py` covers the standard one, and server
processes the tests start get a clean environment with the standard cost.
"""

import os

os.environ.setdefault("SCRIPTFLOW_PASSWORD_HASHING", "fast-for-tests")
