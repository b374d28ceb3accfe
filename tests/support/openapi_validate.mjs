// Validates an OpenAPI description with @seriousme/openapi-schema-validator
// (the OpenAPI 3.1 JSON schema): prints "valid" or the errors, exit 1 on errors.
//   node tests/support/openapi_validate.mjs FILE
import { Validator } from "@seriousme/openapi-schema-validator";
import { readFileSync } from "node:fs";

const result = await new Validator().validate(JSON.parse(readFileSync(process.argv[2], "utf8")));
console.log(result.valid ? "valid" : JSON.stringify(result.errors, null, 1).slice(0, 4000));
process.exit(result.valid ? 0 : 1);
