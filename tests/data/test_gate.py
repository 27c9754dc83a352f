"""Stages run alone refuse a date whose validation did not pass, naming why, unless --force."""

from __future__ import annotations

from typer.testing import CliRunner

from flows.cli import app
from leadgraph.config import Settings
from leadgraph.errors import EXIT_NOT_VALIDATED, EXIT_USAGE
from tasks.gate import validation_verdict
from tasks.ingest import ingest
from tasks.validate import ValidationFailed, validate
from tests.data.builders import day_frames, small_world, write_partition


def test_graph_train_score_and_publish_refuse_a_day_that_failed_validation(settings: Settings) -> None:
    settings.validate_.data_docs = False
    days = small_world(settings, days=2)
    ingest(settings, days[0])
    validate(settings, days[0])
    assert validation_verdict(settings, days[0])[0]
    write_partition(settings, "shipments", days[1], day_frames(days[1], 1)["shipments"].assign(weight_kg=-1.0))
    ingest(settings, days[1])
    try:
        validate(settings, days[1])
    except ValidationFailed:
        pass
    passed, reason = validation_verdict(settings, days[1])
    assert not passed and "shipments: bad_row_fraction" in reason

    for verb in ("graph", "train", "score", "publish"):
        result = CliRunner().invoke(app, [verb, "--as-of", str(days[1])])
        assert result.exit_code == EXIT_NOT_VALIDATED, result.output
        assert f"refusing to work on {days[1]}" in result.output and "--force" in result.output
    forced = CliRunner().invoke(app, ["graph", "--as-of", str(days[1]), "--force"])
    assert forced.exit_code == 0, forced.output
    # Forced past the gate, score and publish still refuse to guess: no model version, so nothing to score or publish.
    for verb, hint in (("score", "leadgraph train --as-of"), ("publish", "leadgraph train --as-of")):
        result = CliRunner().invoke(app, [verb, "--as-of", str(days[1]), "--force"], env={"COLUMNS": "200"})
        assert result.exit_code == EXIT_USAGE and "no model version to score with" in result.output, result.output
        assert hint in result.output
    assert not validation_verdict(settings, days[1] + (days[1] - days[0]))[0]
