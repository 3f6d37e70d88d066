"""Issue 23, item 9 over raw HTTP: one client cannot fill the queue. Clients are simulated by their peer
address (127.0.0.x) and, behind a trusted proxy, by the X-Forwarded-For it sends."""

from __future__ import annotations

import asyncio
import ipaddress
import json

import httpx
import pytest

from ipa_demo.settings import SettingsError
from ipa_demo.settings.values import PARAMS
from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.clients import ClientPolicy, max_queued_per_client
from ipa_demo.ui.server_guard import HELPERS_PER_CLIENT

from .test_app import served
from .test_red_team import call, default_data, events
from .test_security import HeldEngine, request, serves
from .test_ui import wait_for

BODY = json.dumps({"data": [request()[name] for name in PARAMS]})
REFUSAL = "the most one client may have (IPA_MAX_QUEUED_PER_CLIENT is 2)"


def burst(url: str, clients: dict[str, tuple[str, dict[str, str]]], each: int) -> dict[str, list[httpx.Response]]:
    """``each`` simultaneous /call/generate from every client: name -> (peer address, headers)."""

    async def one(address: str, headers: dict[str, str]) -> httpx.Response:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(transport=transport, timeout=60) as client:
            return await client.post(f"{url}gradio_api/call/generate", content=BODY,
                                     headers={"content-type": "application/json", **headers})  # fmt: skip

    async def everyone() -> list[httpx.Response]:
        return await asyncio.gather(*(one(*clients[name]) for name in clients for _ in range(each)))

    answers = asyncio.run(everyone())
    return {name: answers[index * each : (index + 1) * each] for index, name in enumerate(clients)}


def accepted(answers: list[httpx.Response]) -> int:
    refused = [answer for answer in answers if answer.status_code != 200]
    assert all(answer.status_code == 503 and REFUSAL in answer.json()["detail"] for answer in refused), [
        answer.text for answer in refused
    ]
    return len(answers) - len(refused)


@pytest.fixture
def default_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IPA_MAX_QUEUED_PER_CLIENT", "IPA_TRUSTED_PROXIES", "SPACE_ID"):
        monkeypatch.delenv(name, raising=False)


def test_each_peer_address_holds_at_most_two_places(default_cap: None) -> None:
    engine = HeldEngine()
    with served(create_app(engine, queue_size=16, with_examples=False), **launch_options()) as url:  # type: ignore[arg-type]
        clients = {f"client {n}": (f"127.0.0.{n}", {}) for n in (2, 3, 4)}
        for n in (1, 2):  # one peer, not a trusted proxy: its X-Forwarded-For is ignored
            clients[f"spoofer {n}"] = ("127.0.0.5", {"x-forwarded-for": f"10.9.9.{n}"})
        counts = {name: accepted(replies) for name, replies in burst(url, clients, each=8).items()}
        assert counts["client 2"] == counts["client 3"] == counts["client 4"] == 2, counts
        assert counts["spoofer 1"] + counts["spoofer 2"] == 2, counts
        wait_for(lambda: engine.entered == 1, 30, "the first request to run")
        engine.gate.set()
        serves(url)


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted(default_cap, monkeypatch) -> None:
    monkeypatch.setenv("IPA_TRUSTED_PROXIES", "127.0.0.0/8")
    engine = HeldEngine()
    with served(create_app(engine, queue_size=16, with_examples=False), **launch_options()) as url:  # type: ignore[arg-type]
        clients = {f"client {n}": ("127.0.0.1", {"x-forwarded-for": f"203.0.113.{n}"}) for n in range(1, 5)}
        # What a client writes into X-Forwarded-For stands left of what the proxy appends: the forger is
        # counted as itself, not as client 1 (whose two places it would otherwise share).
        clients["forger"] = ("127.0.0.1", {"x-forwarded-for": "203.0.113.1, 198.51.100.7"})
        answers = burst(url, clients, each=5)
        counts = {name: accepted(replies) for name, replies in answers.items()}
        assert counts == dict.fromkeys(clients, 2), counts  # five clients, ten places of sixteen
        engine.gate.set()
        serves(url)


def test_who_the_client_is() -> None:
    proxy = ClientPolicy((ipaddress.ip_network("10.0.0.0/8"),))
    assert proxy.client("192.0.2.1", "198.51.100.1") == "192.0.2.1"  # the peer is no proxy
    assert proxy.client("10.0.0.2", "198.51.100.1, 192.0.2.9, 10.0.0.7") == "192.0.2.9"
    assert proxy.client("10.0.0.2", "10.0.0.9") == "10.0.0.9"  # proxies all the way: the first
    assert proxy.client("10.0.0.2", None) == "10.0.0.2"
    assert ClientPolicy(on_space=True).client("10.1.2.3", "192.0.2.5, 10.0.0.1") == "192.0.2.5"
    assert ClientPolicy().client(None, None) == "unknown"


def test_the_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPA_TRUSTED_PROXIES", "10.0.0.0/8, nonsense")
    with pytest.raises(SettingsError, match="IPA_TRUSTED_PROXIES: 'nonsense' is not an address or network"):
        ClientPolicy.from_env()
    monkeypatch.setenv("IPA_MAX_QUEUED_PER_CLIENT", "0")
    with pytest.raises(SettingsError, match="IPA_MAX_QUEUED_PER_CLIENT: must be at least 1, got 0"):
        max_queued_per_client()
    monkeypatch.setenv("IPA_MAX_QUEUED_PER_CLIENT", "5")
    assert max_queued_per_client() == 5 and max_queued_per_client(3) == 3


def test_the_cap_counts_generations_so_the_page_stays_usable_while_two_run(default_cap: None) -> None:
    """The page's quick queued events (the check before a click, reading a PNG) are not generations: a client
    holding its two generations can still use them, and a third generation is still refused."""
    engine = HeldEngine()
    with served(create_app(engine, queue_size=16, with_examples=False), **launch_options()) as url:  # type: ignore[arg-type]
        client = {"page": ("127.0.0.2", {})}
        assert accepted(burst(url, client, each=2)["page"]) == 2
        wait_for(lambda: engine.entered == 1, 30, "the first request to run")
        gpu = {"generate", "compare", "sweep", "injection_maps"}
        helper, inputs = next((e, i) for e, i in events(url) if e["queue"] and e.get("api_name") not in gpu)
        body = {"data": default_data(inputs), "fn_index": helper["id"], "session_hash": "page", "event_data": None,
                "trigger_id": None}  # fmt: skip
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=transport, timeout=60) as page:
            joined = page.post(f"{url}gradio_api/queue/join", json=body)
        assert joined.status_code == 200, joined.text
        assert accepted(burst(url, client, each=1)["page"]) == 0
        engine.gate.set()
        serves(url)


def test_quick_requests_answered_one_after_another_are_never_refused_while_gradio_cleans_up(default_cap: None) -> None:
    """Gradio forgets an event only after its clean-up (iterators, an analytics summary), which on a loaded
    server lags the answer; a page's quick requests sent one after another must not count the answered ones.
    Here each clean-up takes a second, so the old count refused the fifth request."""
    demo = create_app(HeldEngine(), with_examples=False)  # type: ignore[arg-type]
    queue, reset_iterators = demo._queue, demo._queue.reset_iterators

    async def slow_reset(event_id: str) -> None:
        await asyncio.sleep(1)
        await reset_iterators(event_id)

    queue.reset_iterators = slow_reset  # type: ignore[method-assign]
    with served(demo, **launch_options()) as url:
        gpu = {"generate", "compare", "sweep", "injection_maps"}
        helper, inputs = next((e, i) for e, i in events(url) if e["queue"] and e.get("api_name") not in gpu)
        answers = [call(url, helper, default_data(inputs), session="page") for _ in range(HELPERS_PER_CLIENT + 2)]
        assert not [answer for answer in answers if "quick requests" in answer], answers
        assert len(queue.event_ids_to_events) > 0, "the clean-up did not lag: the test tells nothing apart"
