"""The app answers only under this machine's own names: a DNS-rebinding page (evil.example whose
address is switched to 127.0.0.1) sends a matching Origin, so only the Host header gives it away.
Checked on a real server, as `stylefusion app` serves it."""

from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np

from ..helpers import distinct_styles_generator
from .conftest import encoded, require_app_extra

require_app_extra()

import httpx  # noqa: E402

from tf_stylefusion.app.server import allowed_hosts, background_server, create_app, host_name  # noqa: E402


def test_host_headers_are_read_as_a_browser_writes_them() -> None:
    assert host_name("[::1]:8765") == "::1" and host_name("[::1]") == "::1"
    assert host_name("LocalHost.:80") == "localhost" and host_name("127.0.0.1") == "127.0.0.1"
    assert host_name("evil.example:8765") == "evil.example"


def test_only_loopback_names_and_the_bound_address_are_allowed() -> None:
    local = allowed_hosts("127.0.0.1")
    assert all(map(local, ("127.0.0.1", "localhost", "::1")))
    assert not any(map(local, ("evil.example", "192.168.1.5", "localhost.evil.example", "")))
    lan = allowed_hosts("192.168.1.5")
    assert lan("192.168.1.5") and lan("localhost") and not lan("10.0.0.7") and not lan("mybox")
    # bound to every address, the page is opened by IP from the network; names other than
    # localhost stay refused, since a rebinding page always comes under a name of its own
    everywhere = allowed_hosts("0.0.0.0")
    assert everywhere("192.168.1.5") and everywhere("10.0.0.7") and everywhere("::1")
    assert not everywhere("evil.example") and not everywhere("mybox")
    assert allowed_hosts("::")("fe80::1") and not allowed_hosts("::")("evil.example")


def test_a_dns_rebinding_page_is_refused_though_its_origin_matches() -> None:
    app = create_app(distinct_styles_generator(["a", "b"], seed=0, bank_seed=1))
    photo = encoded(np.full((48, 64, 3), 120, np.uint8))
    with background_server(app) as url:
        port = urlsplit(url).port
        for host, status in (("127.0.0.1", 200), ("localhost", 200), ("[::1]", 200), ("evil.example", 403)):
            headers = {"Host": f"{host}:{port}", "Origin": f"http://{host}:{port}"}
            got = httpx.get(f"{url}api/model", headers=headers, timeout=30)
            assert got.status_code == status, (host, got.text)
        assert "'evil.example'" in got.json()["error"] and f"http://127.0.0.1:{port}/" in got.json()["error"]
        # an upload with the Origin to match: the Origin check alone lets it through
        evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        assert httpx.post(f"{url}api/photos", files={"file": ("p.jpg", photo)}, headers=evil,
                          timeout=30).status_code == 403
        own = {"Host": f"127.0.0.1:{port}", "Origin": f"http://127.0.0.1:{port}"}
        assert httpx.post(f"{url}api/photos", files={"file": ("p.jpg", photo)}, headers=own,
                          timeout=30).status_code == 200
