"""The API's jobs on a shared server: progress and interrupt reach only the caller's own job, the
API and the web app never generate beside each other (one GPU gate), ``--api-auth`` and ``--no-sdapi``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import webuiapi
from gradio_client import Client

from ipa_demo.sdapi.errors import ApiError
from ipa_demo.sdapi.jobs import Jobs
from ipa_demo.sdapi.options import ApiOptions, parse_credentials
from ipa_demo.ui.app import create_app, launch_options

from ..ui.test_app import served
from ..ui.test_ui import FakeEngine

SMALL = {"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 1}
USERS = {"ana": "secret-a", "ben": "secret-b"}


class SlowEngine(FakeEngine):
    """The fake engine at ``step_seconds`` a step, counting how many generations run at once."""

    def __init__(self, step_seconds: float = 0.02) -> None:
        self.step_seconds = step_seconds
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()

    def generate(self, settings, *args: Any, on_step=None, **kwargs: Any):  # type: ignore[no-untyped-def]
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)

        def slowly(done: int, total: int) -> None:
            time.sleep(self.step_seconds)
            if on_step is not None:
                on_step(done, total)

        try:
            return super().generate(settings, *args, on_step=slowly, **kwargs)
        finally:
            with self.lock:
                self.active -= 1


def api_of(url: str, user: str | None = None) -> webuiapi.WebUIApi:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    if user is None:
        return webuiapi.WebUIApi(host=host, port=int(port), steps=2)
    return webuiapi.WebUIApi(host=host, port=int(port), steps=2, username=user, password=USERS[user])


@pytest.fixture(scope="module")
def protected() -> Iterator[tuple[str, SlowEngine]]:
    engine = SlowEngine()
    options = ApiOptions(credentials=parse_credentials("ana:secret-a,ben:secret-b"))
    with served(create_app(engine, with_examples=False, api=options), **launch_options()) as url:  # type: ignore[arg-type]
        yield url, engine


def until(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_credentials_are_required_and_checked(protected: tuple[str, SlowEngine]) -> None:
    url, _ = protected
    assert requests.get(f"{url}sdapi/v1/sd-models", timeout=10).status_code == 401
    assert requests.get(f"{url}sdapi/v1/sd-models", auth=("ana", "wrong"), timeout=10).status_code == 401
    reply = requests.get(f"{url}sdapi/v1/sd-models", auth=("ana", "secret-a"), timeout=10)
    assert reply.status_code == 200 and reply.headers.get("www-authenticate") is None
    assert requests.get(f"{url}controlnet/model_list", timeout=10).status_code == 401
    ana = ("ana", "secret-a")
    current = requests.get(f"{url}sdapi/v1/options", auth=ana, timeout=10).json()["sd_model_checkpoint"]
    assert requests.post(f"{url}sdapi/v1/options", json={"sd_model_checkpoint": current}, auth=ana, timeout=10).ok
    other = requests.post(f"{url}sdapi/v1/options", json={"sd_model_checkpoint": "nope"}, auth=ana, timeout=10)
    assert other.status_code == 422 and other.json()["detail"].startswith("sd_model_checkpoint: ")
    assert requests.post(f"{url}sdapi/v1/options", json={"sd_model_checkpoint": current}, timeout=10).status_code == 401


def test_interrupt_and_progress_reach_only_the_callers_own_job(protected: tuple[str, SlowEngine]) -> None:
    url, _ = protected
    ana, ben = api_of(url, "ana"), api_of(url, "ben")
    results: dict[str, Any] = {}
    threads = [threading.Thread(target=lambda who=who, api=api: results.__setitem__(
        who, api.txt2img(**{**SMALL, "steps": 100}))) for who, api in (("ana", ana), ("ben", ben))]  # fmt: skip
    for thread in threads:
        thread.start()
    # One GPU slot: whichever runs first, the other waits for it with its job registered.
    until(lambda: ana.get_progress()["state"]["job_count"] == 1 and ben.get_progress()["state"]["job_count"] == 1)
    until(lambda: ana.get_progress()["state"]["sampling_step"] > 0)
    progress = ana.get_progress()
    assert 0 < progress["progress"] < 1 and progress["state"]["sampling_steps"] == 100
    assert progress["state"]["job_count"] == 1
    assert ana.interrupt() == {}
    for thread in threads:
        thread.join(60)
    assert results["ana"].info["interrupted"] is True and results["ana"].images == []
    assert results["ben"].info["interrupted"] is False and len(results["ben"].images) == 1, "ben's job ran to its end"
    assert ana.get_progress()["progress"] == 0, "no job: idle"


def test_api_calls_never_run_beside_a_web_generation() -> None:
    engine = SlowEngine(step_seconds=0.01)
    with served(create_app(engine, concurrency=1, with_examples=False), **launch_options()) as url:  # type: ignore[arg-type]
        api = api_of(url)
        web = Client(url, verbose=False).submit(prompt="a dog", steps=40, width=64, height=64, seed=2, ip_scale=0.0,
                                                api_name="/generate")  # fmt: skip
        calls = [threading.Thread(target=api.txt2img, kwargs={**SMALL, "steps": 10}) for _ in range(4)]
        for call in calls:
            call.start()
        web.result(timeout=120)
        for call in calls:
            call.join(120)
    assert engine.most_active == 1


def test_no_sdapi_serves_no_api(engine) -> None:
    demo = create_app(FakeEngine(), with_examples=False, api=ApiOptions(enabled=False))  # type: ignore[arg-type]
    with served(demo, **launch_options()) as url:
        assert requests.post(f"{url}sdapi/v1/txt2img", json=SMALL, timeout=10).status_code == 404
        assert requests.get(f"{url}controlnet/version", timeout=10).status_code == 404


def test_the_flags_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import app

    monkeypatch.setenv("IPA_API_AUTH", "x:y")
    assert ApiOptions.from_env().credentials == {"x": "y"}
    assert ApiOptions.from_env(auth="a:b:c").credentials == {"a": "b:c"}, "a password may hold ':'"
    monkeypatch.setenv("IPA_NO_SDAPI", "1")
    assert not ApiOptions.from_env().enabled
    args = app.parse_args(["--api-auth", "u:p", "--no-sdapi"])
    assert (args.api_auth, args.no_sdapi) == ("u:p", True)
    with pytest.raises(ValueError, match="--api-auth"):
        parse_credentials("nopassword")


def test_one_caller_may_hold_at_most_its_share_of_jobs() -> None:
    """IPA_MAX_QUEUED_PER_CLIENT holds for API callers as for the web app's clients."""
    jobs = Jobs(max_jobs=16, per_caller=2)
    with jobs.job("address:192.0.2.1", 1), jobs.job("address:192.0.2.1", 1):
        with pytest.raises(ApiError) as refused, jobs.job("address:192.0.2.1", 1):
            pass
        assert refused.value.status == 503 and "IPA_MAX_QUEUED_PER_CLIENT is 2" in refused.value.message
        with jobs.job("address:192.0.2.2", 1):  # another caller is not held back
            pass
    with jobs.job("address:192.0.2.1", 1):  # places are given back when jobs end
        pass


def test_an_interrupt_returns_the_runs_finished_before_it(protected: tuple[str, SlowEngine]) -> None:
    """A1111 decodes the interrupted run's latents and returns that image too; our engine stops between two
    steps and gives nothing of the run it was in, so the answer holds the ``n_iter`` runs finished before."""
    url, _ = protected
    ana = api_of(url, "ana")
    results: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: results.__setitem__("ana", ana.txt2img(**{**SMALL, "steps": 50, "n_iter": 3})))
    thread.start()
    until(lambda: ana.get_progress()["state"]["job_no"] == 1 and ana.get_progress()["state"]["sampling_step"] > 0)
    assert ana.interrupt() == {}
    thread.join(60)
    result = results["ana"]
    assert result.info["interrupted"] is True
    assert len(result.images) == 1 and result.info["all_seeds"] == [SMALL["seed"]], "the first run, whole"
    assert result.info["infotexts"] == [result.images[0].info["parameters"]]
