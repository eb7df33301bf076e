"""A small web app to run tests against: a login form, a delayed element and a flaky page."""
