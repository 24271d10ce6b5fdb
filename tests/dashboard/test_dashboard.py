"""The dashboard in headless Chromium against a running server and a simulated fleet: the map
draws every node, a node going down changes colour without a reload, the panels fill, nothing
is fetched from another host, and the console stays clean."""

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from tests.dashboard.conftest import NODES, RunningFleet, Watched, wait_until, watch

VIEWPORT = {"width": 1366, "height": 768}
STATE_RGB = {"ready": (47, 178, 110), "suspect": (245, 165, 36), "down": (239, 62, 54)}


@pytest.fixture(scope="module")
def dashboard(browser: Browser, running_fleet: RunningFleet) -> Iterator[Watched]:
    """One page, opened once with the token in the fragment, shared by the tests in order."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    watched = watch(page, running_fleet.url)
    page.goto(f"{running_fleet.url}/#token={running_fleet.token}")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    yield watched
    context.close()


def _drawn(page: Page) -> int:
    return int(page.get_attribute("#map", "data-nodes-drawn") or 0)


def _probe(page: Page, name: str) -> dict[str, Any]:
    """The node's state, drawn colour, position, the pixel at its centre and whether another
    dot overlaps it, read in one evaluation."""
    found = page.evaluate("name => window.edgeorchDashboard.probe(name)", name)
    assert found, f"the dashboard does not know node {name}"
    return dict(found)


def _rgb(probe: dict[str, Any]) -> tuple[int, int, int]:
    pixel = probe["pixel"]
    assert pixel, f"node {probe} is not on screen"
    return (pixel[0], pixel[1], pixel[2])


def _close(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def _isolated(page: Page, fleet: RunningFleet) -> list[str]:
    """Nodes no other dot overlaps: their centre pixel can only be their own colour."""
    return [n.name for n in fleet.nodes if _probe(page, n.name).get("isolated")]


def test_map_draws_every_node_in_its_state_colour(
    dashboard: Watched, running_fleet: RunningFleet
) -> None:
    page = dashboard.page
    wait_until(lambda: _drawn(page) == NODES, 10, f"{NODES} nodes drawn")
    assert "token=" not in page.url, "the token must leave the address bar"
    assert page.evaluate("sessionStorage.getItem('edgeorch.token')") == running_fleet.token
    # Every node is drawn where it is, in the colour of its state (green while ready; a node
    # of this loaded machine may briefly be suspect, and is then amber).
    isolated = _isolated(page, running_fleet)
    assert len(isolated) >= 6, isolated
    for name in isolated:
        probe = _probe(page, name)
        assert probe["visible"], probe
        assert _close(_rgb(probe), STATE_RGB[probe["state"]]), probe
    ready = [n for n in isolated if _probe(page, n)["state"] == "ready"]
    assert len(ready) >= len(isolated) - 2, "nearly every node is ready and green"
    wait_until(lambda: f"{NODES} ready" in page.inner_text("#counts"), 5, "the header counts")
    page.screenshot(path=str(running_fleet.shots / "dashboard-overview.png"))


def test_node_going_down_turns_red_without_a_reload(
    dashboard: Watched, running_fleet: RunningFleet
) -> None:
    page = dashboard.page
    loads_before = len(dashboard.loads)
    page.evaluate("window.__noReload = 'still the same page'")
    victim = _isolated(page, running_fleet)[0]
    assert _close(_rgb(_probe(page, victim)), STATE_RGB["ready"])
    running_fleet.kill(victim)
    wait_until(lambda: _probe(page, victim)["state"] == "down", 20, f"{victim} down on the map")
    page.wait_for_timeout(100)  # the repaint runs on the next animation frame
    assert _close(_rgb(_probe(page, victim)), STATE_RGB["down"]), _probe(page, victim)
    assert page.evaluate("window.__noReload") == "still the same page"
    assert len(dashboard.loads) == loads_before
    assert running_fleet.node_states()[victim] == "down"
    wait_until(lambda: "1 down" in page.inner_text("#counts"), 5, "the header to count it")
    # The alerts panel follows too: the NodeDown alert shows up without a reload, or, on a
    # server without the alerts API, the panel says so.
    with running_fleet.api() as api:
        alerts_api = api.get("/alerts").status_code != 404
    if alerts_api:
        wait_until(lambda: victim in page.inner_text("#alerts"), 20, "the alert about it")
    else:
        assert "unavailable" in page.inner_text("#alerts")
    page.screenshot(path=str(running_fleet.shots / "dashboard-node-down.png"))
    box = _probe(page, victim)
    clip = {
        "x": max(float(box["pageX"]) - 160, 0),
        "y": max(float(box["pageY"]) - 110, 0),
        "width": 320,
        "height": 220,
    }
    page.screenshot(path=str(running_fleet.shots / "dashboard-node-down-closeup.png"), clip=clip)


def test_panels_show_capacity_topology_and_placement(
    dashboard: Watched, running_fleet: RunningFleet
) -> None:
    page = dashboard.page
    heat = page.inner_text("#heatmap")
    for region in ("us-west", "eu-west", "ap-northeast"):
        assert region in heat, heat
    topology = page.inner_text("#topology")
    for name in ("video-analytics", "game-servers", "batch-reports"):
        assert name in topology, topology
    page.click("li.workload[data-workload=video-analytics] .wl-head strong")
    page.wait_for_selector("#explain .why h4", timeout=10_000)
    why = page.inner_text("#explain")
    assert "Why video-analytics-" in why and "nodes feasible" in why, why
    page.click("#explain button.btn")
    page.wait_for_selector("#analysis", timeout=10_000)
    analysis = page.inner_text("#analysis")
    assert "Analysis now: placeable" in analysis, analysis
    # The selected workload's users are drawn and linked to the instances serving them.
    assert page.evaluate("window.edgeorchDashboard.mapStats().drawn") == NODES
    links = page.evaluate("window.edgeorchDashboard.fleet.workloads.size")
    assert links == 3
    alerts = page.inner_text("#alerts")
    assert alerts.strip(), "the alerts panel says something (alerts, none, or unavailable)"
    assert page.inner_text("#migrations").strip()
    page.locator("#explain .why").first.scroll_into_view_if_needed()
    page.screenshot(path=str(running_fleet.shots / "dashboard-placement.png"))


def test_no_foreign_requests_and_no_console_errors(dashboard: Watched) -> None:
    assert dashboard.foreign == [], dashboard.foreign
    assert dashboard.errors == [], dashboard.errors


def test_without_a_token_the_page_asks_for_one(
    browser: Browser, running_fleet: RunningFleet
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    watched = watch(page, running_fleet.url)
    page.goto(running_fleet.url + "/")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#login-token", "not-a-token")
    page.click("#login-form button")
    wait_until(lambda: "refused" in page.inner_text("#login-message"), 10, "the refusal")
    page.fill("#login-token", running_fleet.token)
    page.click("#login-form button")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    assert _drawn(page) == NODES
    assert watched.foreign == []
    # The refused token is a 401 the browser logs as a failed resource; nothing else may be.
    assert all("401" in e for e in watched.errors), watched.errors
    context.close()
