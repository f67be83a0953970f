// `twofold audit tail` names the users and applications its events are about, beside their ids.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createSandbox, type Sandbox } from "./helpers.ts";

let box: Sandbox;
before(async () => {
  box = createSandbox();
});
after(() => box.cleanup());

test("audit tail shows the username and application name beside each id, and the bare id once deleted", async () => {
  const user = await box.json<{ id: string }>(["user", "add", "carol"]);
  const app = {
    id: (
      await box.json<{ integrationKey: string }>(["app", "create", "--name", "Staff VPN", "--type", "radius"])
    ).integrationKey,
  };
  await box.json(["user", "add", "dave"]);

  const text = await box.run(["audit", "tail"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`user:${user.id} \\(carol\\)`));
  assert.match(text.stdout, new RegExp(`application:${app.id} \\(Staff VPN\\)`));

  const events = await box.json<{ targetId: string; targetName: string | null }[]>(["audit", "tail"]);
  assert.equal(events.find((e) => e.targetId === user.id)?.targetName, "carol");
  assert.equal(events.find((e) => e.targetId === app.id)?.targetName, "Staff VPN");

  assert.equal((await box.run(["user", "delete", "carol", "--yes"])).code, 0);
  const afterDelete = (await box.run(["audit", "tail"])).stdout;
  assert.match(afterDelete, new RegExp(`user:${user.id}  `), "a deleted user's events keep the id");
  assert.doesNotMatch(afterDelete, /\(carol\)/);
  assert.match(afterDelete, /\(dave\)/);
});
