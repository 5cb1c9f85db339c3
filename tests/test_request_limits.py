"""Bounded requests (QUALITY.md, security): a body over its route's limit gets a French 413
before a byte of it is read, and a few slow clients cannot starve the server.

- In-process, every POST route as a visitor, a foyer and the pilot, with a declared body just
  over its limit (512 KB for forms, 20 MB for the import): 413 in French, 0 bytes read. A body
  without a declared size (chunked, which browsers never send for a form) is refused unread,
  411. The import takes a file larger than a form's limit.
- On gunicorn as `make run` starts it (gunicorn.conf.py): while 4 clients send their headers a
  byte at a time, /healthz answers within 1 s; a 100 MB anonymous post to /connexion is
  answered 413 at once and no worker grows.
"""

import http.client
import io
import socket
import threading
import time
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from defi.access import POLICY
from defi.pilot.views import MAX_IMPORT_BYTES
from tests.conftest import Auth
from tests.conftest import page_text
from tests.test_import_preview import confirm
from tests.test_servers import Browser
from tests.test_servers import databases  # noqa: F401 - the fixture
from tests.test_servers import login
from tests.test_servers import start_server  # noqa: F401 - the fixture

FORM_LIMIT = 512 * 1024
# The import's upload and its confirmation (which carries the file back) take a file.
IMPORT_ENDPOINTS = {"pilot.import_entries", "pilot.confirm_import"}
TOO_BIG = "dépasse"


class CountingStream(io.RawIOBase):
    """A request body of `size` bytes that counts what the app reads of it."""

    def __init__(self, size):
        self.size = size
        self.consumed = 0

    def readable(self):
        return True

    def seekable(self):
        return True  # the test client measures the body by seeking to its end: not a read

    def seek(self, offset, whence=io.SEEK_SET):
        self.position = self.size if whence == io.SEEK_END else offset
        return self.position

    def tell(self):
        return getattr(self, "position", 0)

    def readinto(self, buffer):
        count = min(len(buffer), self.size - self.consumed)
        buffer[:count] = b"a" * count
        self.consumed += count
        return count


def post_declared(client, url, size):
    """A form post that declares `size` bytes: (answer, bytes the app read)."""
    stream = CountingStream(size)
    answer = client.open(
        url,
        method="POST",
        input_stream=stream,
        content_length=size,
        content_type="application/x-www-form-urlencoded",
    )
    return answer, stream.consumed


@pytest.mark.parametrize("actor", [None, "foyer-est-01", "pilote"])
def test_every_post_route_refuses_an_oversized_body_unread(app, demo, actor):
    client = app.test_client()
    if actor:
        assert Auth(client).login(actor).status_code == 303
    sent = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        values = {name: 1 for name in rule.arguments - set(rule.defaults or ())}
        url = rule.build(values)[1]
        limit = MAX_IMPORT_BYTES if rule.endpoint in IMPORT_ENDPOINTS else FORM_LIMIT
        answer, read = post_declared(client, url, limit + 1)
        assert answer.status_code == 413, (url, answer.status_code)
        assert read == 0, (url, read)
        text = page_text(answer)
        assert "Envoi trop gros" in text
        expected = "20 Mo" if limit == MAX_IMPORT_BYTES else "512 Ko"
        assert f"{TOO_BIG} {expected} : rien n'a été enregistré" in text, url
        sent += 1
    assert sent >= 40


def test_a_form_at_its_limit_is_read(app, demo, client, auth):
    auth.login("foyer-est-01")
    steps = "Laver, couper, cuire. " * 200
    answer = client.post("/collecte/3/recettes/999999", data={"steps": steps})
    assert answer.status_code == 404  # read, and the row is not there: not a 413


def test_a_body_without_a_declared_size_is_refused_unread(app, demo, client):
    # Werkzeug would read such a body up to the limit and parse what it got: half a text.
    stream = CountingStream(10 * 1024 * 1024)
    answer = client.open(
        "/connexion",
        method="POST",
        input_stream=stream,
        content_type="application/x-www-form-urlencoded",
        # Sent in chunks, without a length: gunicorn then marks the input as terminated.
        environ_overrides={"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True},
    )
    assert answer.status_code == 411
    assert "sans en donner la taille : rien n'a été enregistré" in page_text(answer)
    assert stream.consumed == 0


def test_the_import_takes_a_file_larger_than_a_form(app, demo, client, auth):
    from defi.pilot.imports import HEADER

    auth.login("pilote")
    rows = [
        f"P-{n:05d};Les Poireaux;non;1;2;7;30;3;6;28;;0,5;1;0;manger_mieux;;" for n in range(9000)
    ]
    data = "\n".join([";".join(HEADER), *rows]).encode()
    assert len(data) > FORM_LIMIT
    # Encoded here, in memory: the test client would spool so large a body to a file of its
    # own that it never closes.
    boundary, body = encode_multipart(
        MultiDict(
            {
                "file": FileStorage(io.BytesIO(data), "releves.csv"),
                "challenge_name": "Défi 2019",
                "create_challenge": "y",
            }
        )
    )
    preview = client.post(
        "/pilote/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert preview.status_code == 200
    assert "Confirmer l'import" in page_text(preview)
    answer = confirm(client, preview)
    assert answer.status_code == 303
    assert "9000 relevés créés" in page_text(client.get("/pilote/import"))


def test_a_worker_runs_at_most_its_limit_of_requests_at_once(app, monkeypatch):
    from defi.access import EVERYONE

    lock, inside, most = threading.Lock(), [0], [0]

    def slow():
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        with lock:
            inside[0] -= 1
        return "ok"

    app.add_url_rule("/lent", "slow", slow)
    monkeypatch.setitem(POLICY, "slow", EVERYONE)
    statuses = []
    threads = [
        threading.Thread(target=lambda: statuses.append(app.test_client().get("/lent").status_code))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert most[0] == app.config["MAX_CONCURRENT_REQUESTS"] == 2


# On gunicorn


def worker_memory(server):
    """{pid: resident KB} of gunicorn's workers."""
    master = server.process.pid
    sizes = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if fields.get("PPid", "").strip() == str(master):
            sizes[int(status.parent.name)] = int(fields["VmRSS"].split()[0])
    return sizes


@pytest.mark.slow
def test_slow_clients_do_not_starve_the_server(databases, start_server):  # noqa: F811
    server = start_server(databases.new("sqlite"))
    stop = threading.Event()
    slow = []

    def trickle():
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        slow.append(sock)
        for byte in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 10_000:
            if stop.wait(0.5):
                break
            try:
                sock.send(bytes([byte]))
            except OSError:
                break

    trickling = [threading.Thread(target=trickle) for _ in range(4)]
    for thread in trickling:
        thread.start()
    time.sleep(3)  # the four are well into their headers
    durations = []
    try:
        for _ in range(10):
            started = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            connection.request("GET", "/healthz")
            status = connection.getresponse().status
            connection.close()
            durations.append(time.monotonic() - started)
            assert status == 200
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in trickling:
            thread.join()
        for sock in slow:
            sock.close()
    assert max(durations) < 1, durations
    print(f"\n/healthz with 4 clients trickling headers: max {max(durations) * 1000:.0f} ms")


def trickle_post(port, path, stop, cookie=""):
    """A POST whose 2,000-byte body comes a byte every half second (until `stop`)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        + (f"Cookie: {cookie}\r\n" if cookie else "")
        + "\r\n"
    )
    sock.sendall(head.encode())
    try:
        for _ in range(2000):
            if stop.wait(0.5):
                break
            sock.send(b"a")
    except OSError:
        pass
    finally:
        sock.close()


@pytest.mark.slow
def test_slow_bodies_hold_no_slot_nor_the_write_lock(databases, start_server):  # noqa: F811
    # A request runs once its body is read (defi/workers.py): a logged-in foyer trickling a
    # save, whose first query would take SQLite's write lock, and three visitors trickling a
    # login once left /healthz and every other save waiting, then 503.
    server = start_server(databases.new("sqlite"))
    foyer = Browser(server.port, js=False)
    login(foyer, "foyer-est-01")
    cookie = "; ".join(f"{name}={value}" for name, value in foyer.cookies.items())
    stop = threading.Event()
    senders = [
        threading.Thread(target=trickle_post, args=(server.port, "/collecte/3/repas", stop, cookie))
    ]
    senders += [
        threading.Thread(target=trickle_post, args=(server.port, "/connexion", stop))
        for _ in range(3)
    ]
    for sender in senders:
        sender.start()
    time.sleep(3)
    durations, logins = [], []
    try:
        for number in range(2, 6):
            started = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.request("GET", "/healthz")
            assert connection.getresponse().status == 200
            connection.close()
            durations.append(time.monotonic() - started)
            started = time.monotonic()
            login(Browser(server.port, js=False), f"foyer-est-{number:02d}")  # writes its login
            logins.append(time.monotonic() - started)
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    assert max(durations) < 1, durations
    assert max(logins) < 3, logins
    print(
        f"\n4 slow bodies: /healthz max {max(durations) * 1000:.0f} ms, "
        f"a login (a write) max {max(logins) * 1000:.0f} ms"
    )


@pytest.mark.slow
def test_a_huge_anonymous_post_is_refused_at_once(databases, start_server):  # noqa: F811
    server = start_server(databases.new("sqlite"))
    before = worker_memory(server)
    size = 100 * 1024 * 1024
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", "/connexion")
    connection.putheader("Content-Type", "application/x-www-form-urlencoded")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    sent = 0
    try:  # send until the server answers or closes
        chunk = b"a" * 65536
        while sent < size:
            connection.sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    answer = connection.getresponse()
    body = answer.read().decode()
    elapsed = time.monotonic() - started
    connection.close()
    after = worker_memory(server)
    assert answer.status == 413
    assert "Envoi trop gros" in body
    assert elapsed < 5
    grown = max(after.get(pid, 0) - kb for pid, kb in before.items())
    assert grown < 20 * 1024, (before, after)
    print(
        f"\n100 MB post: 413 in {elapsed * 1000:.0f} ms after {sent // 1024} KB sent; "
        f"workers grew by {grown} KB at most"
    )
