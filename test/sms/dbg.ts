import { createGuardContext, hkNumber, MINUTE } from "./support.ts";

const g = await createGuardContext("sqlite");
let n = 0;
for (let i = 0; i < 5; i++) {
  console.log(
    i,
    await g.send({ userId: "U-quota", phoneE164: hkNumber("9100", n), ip: `198.51.100.${n++}` }),
  );
  g.t.clock.advance(MINUTE);
}
await g.close();
