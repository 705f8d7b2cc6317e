"""The hello service's own unit tests, run as a build step."""

import unittest

from server import GREETING, answer


class AnswerTest(unittest.TestCase):
    def test_health(self) -> None:
        self.assertEqual(answer("/healthz"), (200, {"status": "ok"}))

    def test_greeting(self) -> None:
        status, body = answer("/")
        self.assertEqual(status, 200)
        self.assertEqual(body["greeting"], GREETING)


if __name__ == "__main__":
    unittest.main()
