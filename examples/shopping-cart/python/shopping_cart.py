#!/usr/bin/env python3
"""The shopping cart of examples/shopping-cart, written with the official
StateFun Python SDK (PyPI apache-flink-statefun==3.3.0): the same function
types, message types, state and egress records, so statefun-local can run
the same module.yaml against either.

Serves POST /statefun on 127.0.0.1 at the port given as the first argument
(0 picks one) and prints the port on stdout once it listens:

    python shopping_cart.py PORT             # the standard library's threading HTTP server
    python shopping_cart.py --aiohttp PORT   # aiohttp, as the SDK's documentation serves it

The first needs only the statefun package (statefun-local's tests use it);
the second also needs aiohttp (benches/run.sh compares it with the Rust
SDK).
"""

import json
import sys
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from statefun import (
    IntType,
    RequestReplyHandler,
    StatefulFunctions,
    ValueSpec,
    kafka_egress_message,
    make_json_type,
    message_builder,
)

AddToCart = make_json_type("com.example.types/AddToCart")
RequestItem = make_json_type("com.example.types/RequestItem")
ItemReserved = make_json_type("com.example.types/ItemReserved")
ItemUnavailable = make_json_type("com.example.types/ItemUnavailable")
Restock = make_json_type("com.example.types/Restock")
ReleaseItem = make_json_type("com.example.types/ReleaseItem")
CommitItem = make_json_type("com.example.types/CommitItem")
Checkout = make_json_type("com.example.types/Checkout")
CartExpired = make_json_type("com.example.types/CartExpired")
ItemsInCart = make_json_type("com.example.types/ItemsInCart")

CART = "com.example/cart"
INVENTORY = "com.example/inventory"
RESULTS = "com.example/results"
CART_EXPIRY = timedelta(minutes=15)

functions = StatefulFunctions()


def send(context, typename, target_id, value, value_type):
    context.send(
        message_builder(
            target_typename=typename, target_id=target_id, value=value, value_type=value_type
        )
    )


def result(context, user, item_id, quantity, success):
    record = {"user_id": user, "item_id": item_id, "quantity": quantity, "success": success}
    context.send_egress(
        kafka_egress_message(
            typename=RESULTS, topic="add-to-cart-results", key=user, value=json.dumps(record)
        )
    )


@functions.bind(typename=CART, specs=[ValueSpec(name="items", type=ItemsInCart)])
def cart(context, message):
    user = context.address.id
    token = "cart-expiry:" + user
    if message.is_type(AddToCart):
        msg = message.as_type(AddToCart)
        request = {"item_id": msg["item_id"], "quantity": msg["quantity"]}
        send(context, INVENTORY, msg["item_id"], request, RequestItem)
    elif message.is_type(ItemReserved):
        msg = message.as_type(ItemReserved)
        items = context.storage.items or {}
        if not items:
            context.send_after(
                CART_EXPIRY,
                message_builder(
                    target_typename=CART,
                    target_id=user,
                    value={"user_id": user},
                    value_type=CartExpired,
                ),
                cancellation_token=token,
            )
        items[msg["item_id"]] = items.get(msg["item_id"], 0) + msg["quantity"]
        context.storage.items = items
        result(context, user, msg["item_id"], msg["quantity"], True)
    elif message.is_type(ItemUnavailable):
        msg = message.as_type(ItemUnavailable)
        result(context, user, msg["item_id"], msg["quantity"], False)
    elif message.is_type(Checkout):
        items = context.storage.items or {}
        if items:
            context.cancel_delayed_message(token)
        receipt = {"user_id": user, "items": items}
        context.send_egress(
            kafka_egress_message(
                typename=RESULTS, topic="receipts", key=user, value=json.dumps(receipt)
            )
        )
        for item_id, quantity in items.items():
            send(context, INVENTORY, item_id, {"item_id": item_id, "quantity": quantity}, CommitItem)
        del context.storage.items
    elif message.is_type(CartExpired):
        for item_id, quantity in (context.storage.items or {}).items():
            send(context, INVENTORY, item_id, {"item_id": item_id, "quantity": quantity}, ReleaseItem)
        del context.storage.items
    else:
        raise TypeError("unexpected message " + message.value_typename())


@functions.bind(
    typename=INVENTORY,
    specs=[ValueSpec(name="stock", type=IntType), ValueSpec(name="reserved", type=IntType)],
)
def inventory(context, message):
    stock = context.storage.stock or 0
    reserved = context.storage.reserved or 0
    if message.is_type(Restock):
        context.storage.stock = stock + message.as_type(Restock)["quantity"]
    elif message.is_type(RequestItem):
        msg = message.as_type(RequestItem)
        caller = context.caller
        if caller is None:
            raise ValueError("RequestItem must come from a cart")
        answer = {"item_id": msg["item_id"], "quantity": msg["quantity"]}
        if stock - reserved >= msg["quantity"]:
            context.storage.reserved = reserved + msg["quantity"]
            send(context, caller.typename, caller.id, answer, ItemReserved)
        else:
            send(context, caller.typename, caller.id, answer, ItemUnavailable)
    elif message.is_type(ReleaseItem):
        context.storage.reserved = reserved - message.as_type(ReleaseItem)["quantity"]
    elif message.is_type(CommitItem):
        quantity = message.as_type(CommitItem)["quantity"]
        context.storage.stock = stock - quantity
        context.storage.reserved = reserved - quantity
    else:
        raise TypeError("unexpected message " + message.value_typename())


handler = RequestReplyHandler(functions)


class Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            response = handler.handle_sync(body)
            status = 200
        except Exception as error:  # the runtime retries any failure
            response = str(error).encode("utf-8")
            status = 500
        self.send_response(status)
        self.send_header(
            "Content-Type", "application/octet-stream" if status == 200 else "text/plain"
        )
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)

    def log_message(self, format, *args):
        pass


def serve_threading(port):
    server = ThreadingHTTPServer(("127.0.0.1", port), Endpoint)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def serve_aiohttp(port):
    import asyncio

    from aiohttp import web

    async def statefun(request):
        body = await request.read()
        response = await handler.handle_async(body)
        return web.Response(body=response, content_type="application/octet-stream")

    async def run():
        app = web.Application()
        app.add_routes([web.post("/statefun", statefun)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


def main():
    args = sys.argv[1:]
    use_aiohttp = "--aiohttp" in args
    args = [a for a in args if a != "--aiohttp"]
    port = int(args[0]) if args else 0
    if use_aiohttp:
        serve_aiohttp(port)
    else:
        serve_threading(port)


if __name__ == "__main__":
    main()
