"""Child process of the kill -9 test: commits batches under load and prints each
acknowledged nonce range only after ``submit(wait=True)`` returned (i.e. after it is durable)."""

import sys
import threading

from govchain.crypto import get_suite
from govchain.ledger.transactions import build_transaction
from govchain.node.embedded import open_embedded
from govchain.node.network import NetworkDir


def main() -> None:
    network, start = sys.argv[1], int(sys.argv[2])
    net = NetworkDir(network)
    genesis = net.genesis()
    suite = get_suite(genesis.suite)
    node = open_embedded(network)
    node.start()
    lock = threading.Lock()

    def worker(signer: str, first: int) -> None:
        key = net.member_key(signer).keypair
        nonce = first
        while True:
            batch = [
                build_transaction(
                    chain=genesis.chain_id,
                    signer=signer,
                    nonce=nonce + i,
                    contract="kv",
                    method="put",
                    args={"key": f"{signer}:{nonce + i}", "value": nonce + i},
                    actor=signer,
                    sign=lambda m: suite.sign(key.private, m),
                    hash_fn=suite.hash,
                ).encode()
                for i in range(50)
            ]
            out = node.submit(batch, wait=True)
            assert all(not isinstance(o, Exception) for o in out), out
            with lock:
                print(f"ack {signer} {nonce} {nonce + 49}", flush=True)
            nonce += 50

    for signer in ("tax/admin", "market/admin"):
        threading.Thread(target=worker, args=(signer, start), daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
