"""moto's server, serialised behind one global lock.

Stock `moto_server` is multi-threaded and loses updates under concurrent conditional
writes (DESIGN §9: 50 racing decrements on 5 let 6-7 through). Real DynamoDB does not, so
our concurrency tests would be testing moto's race, not our code. Here every request runs
to completion -- including reading the whole response body -- while holding one lock.

Usage: moto_locked.py PORT   (binds 127.0.0.1 only)
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

_LOCK = threading.Lock()


def _production_ses_quota() -> None:
    """moto reports the quota of a brand-new SES sandbox account (200 mails a day, 1 a
    second) and enforces neither. `kiosk update` paces itself by the reported rate, so
    report what a shop's production SES account has (50,000 a day, 50 a second); the
    tests then run at a real shop's pace instead of one mail a second."""
    from moto.ses import models

    stock = models.SESBackend.get_send_quota

    def get_send_quota(self):
        quota = stock(self)
        quota.max24_hour_send = 50000
        quota.max_send_rate = 50
        return quota

    models.SESBackend.get_send_quota = get_send_quota


class LockedApp:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        with _LOCK:
            body = self.app(environ, start_response)
            try:
                chunks = list(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        return chunks


def main() -> None:
    port = int(sys.argv[1])
    _production_ses_quota()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1",
        port,
        LockedApp(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
