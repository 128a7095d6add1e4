from tests.portal_fixtures import login


def test_login_and_search(tc):
    r = tc.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    login(tc, "officer")
    r = tc.get("/search", params={"q": "smith"})
    assert r.status_code == 200, r.text
    assert r.json()["purpose"] == "investigation"
