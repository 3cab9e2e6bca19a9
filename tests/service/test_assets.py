"""What every page loads besides itself: the icon, the stylesheet, the script."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.service.support import make_app


@pytest.fixture
def stranger(tmp_path):
    with TestClient(make_app(tmp_path / "data")) as c:
        yield c


@pytest.mark.parametrize("path", ["/favicon.ico", "/static/favicon.svg"])
def test_the_icon_is_served_without_sign_in(stranger, path):
    response = stranger.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.lstrip().startswith("<svg")


def test_pages_name_the_icon(stranger):
    page = stranger.get("/signin").text
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg">' in page
