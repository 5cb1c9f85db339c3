"""Throttling that holds (QUALITY.md, security): one count per account however its name is
spelled, shared by every worker and kept over a restart, and code look-ups counted too.

- The storage of `defi/ratelimit.py` (a SQLite file, the default without Redis): its windows,
  and 8 processes racing for one key get exactly the limit between them.
- In-process: every spelling of a username that logs in is one account's count; the 11th
  attempt is refused with `Retry-After`; invitation codes looked up or refused are counted per
  code (in any spelling) and per address; unknown calendar addresses per address.
- On gunicorn with `make run`'s workers and the default storage: 16 wrong passwords sent at
  once in 4 spellings get 10 refusals for the password and 6 for the throttle, and after a
  restart the account is still throttled.
"""

import multiprocessing
import re
import threading
import time

import pytest
import sqlalchemy as sa

from defi.accounts.services import issue_invitation
from defi.accounts.services import normalise_username
from defi.extensions import db
from defi.models import Household
from defi.models import User
from defi.ratelimit import SQLiteStorage
from tests.conftest import DEMO_PASSWORD
from tests.conftest import demo_code
from tests.conftest import page_text
from tests.test_servers import WRONG_PASSWORD
from tests.test_servers import Browser
from tests.test_servers import databases  # noqa: F401 - the fixture
from tests.test_servers import login
from tests.test_servers import page_text_of
from tests.test_servers import start_server  # noqa: F401 - the fixture

# One account, typed in ways that the login reads as the same name.
SPELLINGS = [
    "foyer-est-04",
    "FOYER-EST-04",
    "  foyer-est-04 ",
    "foyer-est-04\x01",
    "foyer\u200b-est-04",  # a zero-width space
    "\uff46\uff4f\uff59\uff45\uff52-est-04",  # full-width letters
    "foyer-est-04\u00a0",  # a no-break space
    "foyer-\x00est-04",
    "foyer-est-04\u2060\t",  # a word joiner and a tab
]


# The storage


def storage_at(tmp_path):
    return SQLiteStorage(f"sqlite:///{tmp_path / 'ratelimit.sqlite'}")


def test_moving_window_counts_each_key_and_forgets_old_hits(tmp_path, monkeypatch):
    storage = storage_at(tmp_path)
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    assert [storage.acquire_entry("a", 3, 60) for _ in range(4)] == [True, True, True, False]
    assert storage.acquire_entry("b", 3, 60)  # another key, another count
    assert storage.get_moving_window("a", 3, 60) == (1_000_000.0, 3)
    assert not storage.acquire_entry("a", 3, 60, amount=4)
    clock[0] += 61  # the window has moved past the three hits
    assert storage.get_moving_window("a", 3, 60) == (clock[0], 0)
    assert storage.acquire_entry("a", 3, 60)
    storage.clear("a")
    assert storage.get_moving_window("a", 3, 60)[1] == 0


def test_fixed_window_counter_expires(tmp_path, monkeypatch):
    storage = storage_at(tmp_path)
    clock = [2_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    assert [storage.incr("c", 10) for _ in range(3)] == [1, 2, 3]
    assert storage.get("c") == 3
    assert storage.get_expiry("c") == clock[0] + 10
    clock[0] += 11
    assert storage.get("c") == 0
    assert storage.incr("c", 10) == 1
    assert storage.check()
    assert storage.reset() >= 1
    assert storage.get("c") == 0


def _acquire(path, results, attempts):
    storage = SQLiteStorage(f"sqlite:///{path}")
    for _ in range(attempts):
        results.put(storage.acquire_entry("login:foyer-est-04", 10, 900))


@pytest.mark.slow
def test_processes_racing_for_one_key_get_the_limit_between_them(tmp_path):
    path = tmp_path / "ratelimit.sqlite"
    SQLiteStorage(f"sqlite:///{path}")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_acquire, args=(path, results, 5)) for _ in range(8)]
    for worker in workers:
        worker.start()
    granted = [results.get(timeout=60) for _ in range(40)]
    for worker in workers:
        worker.join(timeout=60)
    assert granted.count(True) == 10
    assert granted.count(False) == 30


def test_the_default_storage_is_a_file_in_the_instance_folder(app_config):
    from defi import create_app

    config = type("Config", (app_config,), {"RATELIMIT_STORAGE_URI": ""})
    app = create_app(config)
    assert app.config["RATELIMIT_STORAGE_URI"] == f"sqlite:///{app.instance_path}/ratelimit.sqlite"


# In-process


@pytest.fixture
def app_config(app_config, tmp_path):
    """The default storage of a server without Redis, in the test's own folder."""
    uri = f"sqlite:///{tmp_path / 'ratelimit.sqlite'}"
    return type("Config", (app_config,), {"RATELIMIT_STORAGE_URI": uri})


def test_every_spelling_of_a_name_is_one_account(demo, app):
    for spelling in SPELLINGS[:5]:
        assert normalise_username(spelling) == "foyer-est-04"
        phone = app.test_client()
        answer = phone.post("/connexion", data={"username": spelling, "password": DEMO_PASSWORD})
        assert answer.status_code == 303, repr(spelling)


def test_the_11th_attempt_is_refused_however_the_name_is_spelled(demo, app, client):
    statuses = []
    for attempt in range(10):
        spelling = SPELLINGS[attempt % len(SPELLINGS)]
        data = {"username": spelling, "password": "pas-le-bon-mot-de-passe"}
        statuses.append(client.post("/connexion", data=data).status_code)
    assert statuses == [200] * 10
    for spelling in SPELLINGS:  # even with the right password, in any spelling
        locked = app.test_client().post(
            "/connexion", data={"username": spelling, "password": DEMO_PASSWORD}
        )
        assert locked.status_code == 429, repr(spelling)
        assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
        assert "Trop de tentatives" in page_text(locked)
    other = app.test_client().post(
        "/connexion", data={"username": "foyer-est-06", "password": DEMO_PASSWORD}
    )
    assert other.status_code == 303  # another account of the same address


def new_code(code_of=None):
    """A fresh reset code for a foyer's account (the code is shown once, as on paper)."""
    code_of = code_of or demo_code("EST-07")
    household = db.session.scalar(sa.select(Household).where(Household.code == code_of))
    account = db.session.scalar(sa.select(User).where(User.household_id == household.id))
    _invitation, code = issue_invitation("household", None, household=household, user=account)
    db.session.commit()
    return code, account.username


def test_looking_a_code_up_is_throttled_per_code(demo, app):
    code, username = new_code()
    spellings = [code, code.lower(), "-".join(code[i : i + 4] for i in (0, 4, 8)), f" {code} "]
    for attempt in range(10):
        page = app.test_client().get("/invitation", query_string={"code": spellings[attempt % 4]})
        assert page.status_code == 200
        assert username in page_text(page)  # the page names the account the code resets
    refused = app.test_client().get("/invitation", query_string={"code": code.lower()})
    assert refused.status_code == 429
    assert username not in page_text(refused)
    assert int(refused.headers["Retry-After"]) > 0
    # Failed redemptions of that code count too: still refused, even with a good password.
    redeem = app.test_client().post(
        "/invitation", data={"code": code, "password": "une phrase assez longue", "confirm": "x"}
    )
    assert redeem.status_code == 429
    # The page without a code, and other codes, are not throttled by this one.
    assert app.test_client().get("/invitation").status_code == 200
    other, _username = new_code(demo_code("EST-08"))
    assert app.test_client().get("/invitation", query_string={"code": other}).status_code == 200


def test_looking_codes_up_is_throttled_per_address(demo, app, client):
    statuses = [
        client.get("/invitation", query_string={"code": f"ABCD-EFGH-{n:04d}"}).status_code
        for n in range(61)
    ]
    assert statuses == [200] * 60 + [429]
    # A failed redemption from that address is refused as well.
    refused = client.post("/invitation", data={"code": "ABCD-EFGH-9999"})
    assert refused.status_code == 429


def test_guessing_calendar_addresses_is_throttled_per_address(demo, client):
    statuses = [client.get(f"/calendrier/ical/devine-{n}.ics").status_code for n in range(1001)]
    assert statuses == [404] * 1000 + [429]


# On gunicorn


@pytest.mark.slow
def test_workers_share_the_count_and_a_restart_keeps_it(databases, start_server, tmp_path):  # noqa: F811
    url = databases.new("sqlite")
    storage = {"RATELIMIT_STORAGE_URI": f"sqlite:///{tmp_path / 'ratelimit.sqlite'}"}
    server = start_server(url, **storage)
    spellings = ["animateur-est", "Animateur-Est", "animateur-est\x01", "animateur\u200b-est"]
    browsers = [Browser(server.port, js=False) for _ in range(16)]
    pages = [browser.open("/connexion") for browser in browsers]
    answers = [None] * len(browsers)
    start = threading.Barrier(len(browsers))

    def attempt(slot):
        form = pages[slot].form("/connexion")
        data = form.data(username=spellings[slot % 4], password="pas-le-bon-mot-de-passe")
        start.wait(timeout=30)
        answers[slot] = browsers[slot].request("POST", "/connexion", data)

    threads = [threading.Thread(target=attempt, args=(slot,)) for slot in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [200] * 10 + [429] * 6, statuses
    assert all(WRONG_PASSWORD in page_text_of(a) for a in answers if a.status == 200)
    workers = set(re.findall(r"Booting worker with pid: (\d+)", server.tail()))
    server.stop()

    again = start_server(url, **storage)  # a restart: the count is still there
    late = login(Browser(again.port, js=False), "animateur-est", DEMO_PASSWORD, status=429)
    assert "Trop de tentatives" in page_text_of(late)
    print(
        f"\n16 wrong passwords at once on {len(workers)} workers: "
        f"{statuses.count(200)} refused by the password, {statuses.count(429)} throttled; "
        "throttled still after a restart"
    )
