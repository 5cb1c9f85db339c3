"""A network cable the test can pull: a TCP relay between the browser and the live server.

Chromium's offline emulation (`context.set_offline`) does not reach a page controlled by a
service worker: its requests still get through. The relay cuts for real: while it is cut,
every connection, open or new, is closed at once, so the browser sees what a phone sees when
its signal drops (the request fails with no answer).
"""

import contextlib
import socket
import threading


class Cable:
    def __init__(self, target_port: int):
        self.target_port = target_port
        self.cut = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="cable").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pull(self):
        """No network: every connection is dropped, now and until `plug`."""
        self.cut = True
        with self._lock:
            for sock in list(self._open):
                self._close(sock)

    def plug(self):
        self.cut = False

    def close(self):
        self.pull()
        self._listener.close()

    def _close(self, sock):
        self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _accept(self):
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            if self.cut:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                if self.cut:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._close(source)
            self._close(sink)
