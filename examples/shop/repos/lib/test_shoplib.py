"""Tests of the shared library, run by the lib's build."""

import tempfile
import unittest
from pathlib import Path

from shoplib import Metrics, load_behaviour


class BehaviourTest(unittest.TestCase):
    def test_config_then_env_overrides(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "behaviour.json"
            config.write_text('{"error_rate": 0.2, "latency_ms": 5}')
            loaded = load_behaviour(config, {"SHOP_LATENCY_MS": "7"})
        self.assertEqual((loaded.error_rate, loaded.latency_ms), (0.2, 7.0))

    def test_a_region_may_behave_otherwise(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "behaviour.json"
            config.write_text('{"error_rate": 0.0, "regions": {"eu-west": {"error_rate": 0.3}}}')
            there = load_behaviour(config, {"FERRYMAN_REGION": "eu-west"})
            elsewhere = load_behaviour(config, {"FERRYMAN_REGION": "us-east"})
        self.assertEqual((there.error_rate, elsewhere.error_rate), (0.3, 0.0))

    def test_rates_are_checked(self) -> None:
        with self.assertRaises(ValueError):
            load_behaviour(Path("/nonexistent"), {"SHOP_ERROR_RATE": "2"})

    def test_metrics_text(self) -> None:
        metrics = Metrics("catalog")
        metrics.request(200)
        metrics.convert()
        text = metrics.text()
        self.assertIn('shop_requests_total{service="catalog",code="200"} 1', text)
        self.assertIn('shop_conversions_total{service="catalog"} 1', text)

    def test_checkouts_count_visits_and_conversions(self) -> None:
        metrics = Metrics("checkout")
        metrics.checkout(converted=True)
        metrics.checkout(converted=False)
        text = metrics.text()
        self.assertIn('shop_checkouts_total{service="checkout"} 2', text)
        self.assertIn('shop_conversions_total{service="checkout"} 1', text)


if __name__ == "__main__":
    unittest.main()
