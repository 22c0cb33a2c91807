"""`manage.py dkim_keygen --algorithm rsa|ed25519 --out PATH [--domain D] [--selector S]`: a new DKIM key for
the operator (R-DLV-2).

Writes the private key as an unencrypted PKCS#8 PEM readable by its owner only (0600; an existing file is
never overwritten) and prints the DNS TXT record to publish at `<selector>._domainkey.<domain>`. Then set
DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE. The private key is never printed.

RSA keys are 2048 bits, what every receiver verifies; Ed25519 (RFC 8463) is much cheaper to sign with, but
not every receiver verifies it yet, so sign with an RSA key as well when using one (a domain may publish
both under two selectors).
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backend.mailings import signing


class Command(BaseCommand):
    help = "Generate a DKIM private key (PEM, mode 0600) and print the TXT record to publish."

    def add_arguments(self, parser):
        parser.add_argument("--algorithm", choices=["rsa", "ed25519"], default="rsa")
        parser.add_argument("--out", required=True, help="where to write the private key (PEM)")
        parser.add_argument("--domain", default="", help="the d= domain (default: DKIM_DOMAIN)")
        parser.add_argument("--selector", default="", help="the s= selector (default: DKIM_SELECTOR)")

    def handle(self, *args, algorithm, out, domain, selector, **options):
        if algorithm not in ("rsa", "ed25519"):
            raise CommandError("--algorithm must be rsa or ed25519")
        domain = domain or settings.DKIM_DOMAIN or "example.com"
        selector = selector or settings.DKIM_SELECTOR or "mailer"
        pem = signing.generate_pem(algorithm)
        try:
            # O_EXCL: never replace a key that may be published and in use; 0600 from the first byte.
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandError(f"{out} exists; not overwriting a key that may be in use") from None
        except OSError as exc:
            raise CommandError(f"{out} cannot be written: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        key = signing.load_private_key(pem, domain=domain, selector=selector, source=out)
        self.stdout.write(f"Wrote the {algorithm} private key to {out} (mode 0600).")
        self.stdout.write("Publish this DNS TXT record:")
        self.stdout.write(f'{signing.record_name(key)}. IN TXT "{signing.public_record(key)}"')
        if algorithm == "rsa":
            self.stdout.write(
                "(A record longer than 255 characters is published as several quoted strings; most DNS "
                "providers split it for you.)"
            )
        self.stdout.write(
            f"Then set DKIM_DOMAIN={key.domain} DKIM_SELECTOR={key.selector} DKIM_PRIVATE_KEY_FILE={out}"
        )
