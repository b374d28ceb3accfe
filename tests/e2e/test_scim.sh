#!/usr/bin/env bash
# SCIM 2.0 end to end (SPEC §6), as Entra ID and Okta call it: the same
# members and teams as the API's (checked through /v1/members and
# /v1/teams), the role group, the invariants a sync keeps (unique emails,
# no team cycles, Administrators never deactivated), PATCH variants,
# ETags, Bulk, the audit trail, and the gate (403 unless the method is
# scim, 401 in SCIM's shape).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
S=/scim/v2

# scim METHOD PATH [JSON]: a SCIM request with a JSON body when given.
scim() {
	if [ $# -ge 3 ]; then
		req "$1" "$S$2" -H 'Content-Type: application/scim+json' --data-binary "$3"
	else
		req "$1" "$S$2"
	fi
}

t "SCIM answers 403 in SCIM's shape while the method is not scim"
scim GET /Users
expect_status 403
expect_jq "status is a string" .status 403
expect_jq "schemas" '.schemas[0]' urn:ietf:params:scim:api:messages:2.0:Error

req_json PATCH /v1/settings '{"provisioning":{"method":"scim"}}'

t "a bad key answers 401 in SCIM's shape; an unknown route 404; a wrong method 405"
KEY=nope
scim GET /Users
expect_status 401
expect_jq "status" .status 401
KEY=$ORG_KEY
scim GET /Nothing
expect_status 404
expect_jq "status" .status 404
scim DELETE /Users
expect_status 405
expect_jq "status" .status 405
scim GET "/Users?nope=1"
expect_status 400
expect_jq "scimType" .scimType invalidValue

t "Entra creates a user (application/scim+json, enterprise extension, manager as a bare id)"
scim POST /Users '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
 "externalId":"E100","userName":"Ada.Lovelace@acme.example","active":true,"displayName":"Ada Lovelace",
 "title":"Engineer","preferredLanguage":"fr-CA","name":{"givenName":"Ada","familyName":"Lovelace","formatted":"Ada Lovelace"},
 "emails":[{"primary":true,"type":"work","value":"ada.lovelace@acme.example"}],
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":"M-1"}}'
expect_status 201
ADA=$(jqr .id)
expect_match "Location" "/scim/v2/Users/$ADA" "$(header Location)"
expect_match "ETag" '^W/"[0-9a-f]+"$' "$(header ETag)"
expect_jq "manager as an object" '."urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".manager.value' M-1
expect_jq "department" '."urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".department' "R&D"
req GET /v1/members/E100
expect_status 200
expect_jq "the API sees the member" '[.email, .firstName, .lastName, .jobTitle, .languagePreferences[0], .state] | join(",")' \
	"Ada.Lovelace@acme.example,Ada,Lovelace,Engineer,fr,created"

t "userName is unique ignoring case: 409 uniqueness"
scim POST /Users '{"userName":"ADA.LOVELACE@acme.example","externalId":"E101"}'
expect_status 409
expect_jq "scimType" .scimType uniqueness

t "filters: userName eq any case (indexed), co, and/or/not, complex, enterprise attribute"
scim GET "/Users?filter=userName%20eq%20%22ada.lovelace@ACME.example%22"
expect_jq "userName eq" .totalResults 1
scim GET "/Users?filter=emails%5Btype%20eq%20%22work%22%20and%20value%20co%20%22lovelace%22%5D"
expect_jq "complex" .totalResults 1
scim GET "/Users?filter=not%20(title%20eq%20%22Engineer%22)%20or%20name.familyName%20sw%20%22love%22"
expect_jq "not/or" .totalResults 1
scim GET "/Users?filter=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department%20eq%20%22r%26d%22"
expect_jq "enterprise" .totalResults 1
scim GET "/Users?filter=externalId%20eq%20%22e100%22"
expect_jq "externalId is case-exact" .totalResults 0
scim GET "/Users?filter=userName%20eq"
expect_status 400
expect_jq "a broken filter" .scimType invalidFilter

t "Okta deactivates with a path-less replace; the API sees it deactivated; active=\"True\" reactivates"
scim PATCH "/Users/$ADA" '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}'
expect_status 204
req GET /v1/members/E100
expect_jq "state" .state deactivated
scim PATCH "/Users/$ADA" '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}'
expect_status 204
req GET /v1/members/E100
expect_jq "state" .state active

t "Entra's dotted keys and value filters in PATCH"
scim PATCH "/Users/$ADA" '{"Operations":[{"op":"Replace","value":{"name.givenName":"Augusta","emails[type eq \"work\"].value":"ada@acme.example",
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Math"}},{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"555"}]}'
expect_status 204
scim GET "/Users/$ADA"
expect_jq "givenName" .name.givenName Augusta
expect_jq "work email" '.emails[] | select(.type=="work") | .value' ada@acme.example
expect_jq "mobile" '.phoneNumbers[0].value' 555
expect_jq "department" '."urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".department' Math
req GET /v1/members/E100
expect_jq "firstName" .firstName Augusta

t "a team: create, add the user, rename; the API sees it"
scim POST /Groups '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","externalId":"T-ENG","members":[]}'
expect_status 201
ENG=$(jqr .id)
scim PATCH "/Groups/$ENG" "{\"Operations\":[{\"op\":\"Add\",\"path\":\"members\",\"value\":[{\"value\":\"$ADA\"}]}]}"
expect_status 204
req GET /v1/teams/T-ENG
expect_jq "members" '.members | join(",")' E100
scim PATCH "/Groups/$ENG" '{"Operations":[{"op":"replace","value":{"id":"x","displayName":"R&D Engineering"}}]}'
expect_status 204
req GET /v1/teams/T-ENG
expect_jq "renamed, same team" .teamName "R&D Engineering"
scim GET "/Groups/$ENG?excludedAttributes=members"
expect_true "members left out" 'has("members") | not'

t "the role group: found by name, adding grants Administrator, deactivating an Administrator is refused"
scim GET "/Groups?filter=displayName%20eq%20%22orgsync-Administrators%22"
expect_jq "found" .totalResults 1
ROLE=$(jqr '.Resources[0].id')
scim PATCH "/Groups/$ROLE" "{\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$ADA\"}]}]}"
expect_status 204
req GET /v1/members/E100
expect_jq "role" .role Administrator
scim PATCH "/Users/$ADA" '{"Operations":[{"op":"replace","path":"active","value":false}]}'
expect_status 400
expect_jq "scimType" .scimType mutability
req GET /v1/roles
expect_jq "roles name the group" '.items[0].scim.group' orgsync-Administrators
expect_true "and how to assign it from Entra ID and Okta" '.items[0].scim | (.entraId | test("Entra")) and (.okta | test("Okta"))'

t "removals: members[value eq] from the team, path members with a value from the role group"
scim PATCH "/Groups/$ENG" "{\"Operations\":[{\"op\":\"remove\",\"path\":\"members[value eq \\\"$ADA\\\"]\"}]}"
expect_status 204
req GET /v1/teams/T-ENG
expect_jq "no members" '.members | length' 0
scim PATCH "/Groups/$ROLE" "{\"Operations\":[{\"op\":\"remove\",\"path\":\"members\",\"value\":[{\"value\":\"$ADA\"}]}]}"
expect_status 204
req GET /v1/members/E100
expect_jq "role revoked" .role Member

t "subteams: a Group as a member, and a cycle refused"
scim POST /Groups '{"displayName":"Platform","externalId":"T-PLAT"}'
PLAT=$(jqr .id)
scim PATCH "/Groups/$ENG" "{\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$PLAT\",\"type\":\"Group\"}]}]}"
expect_status 204
req GET /v1/teams/T-ENG
expect_jq "subteam" '.subteams[0].externalTeamId' T-PLAT
scim PATCH "/Groups/$PLAT" "{\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$ENG\"}]}]}"
expect_status 409

t "ETags: If-Match with a stale version answers 412; If-None-Match 304"
scim GET "/Users/$ADA"
V=$(header ETag)
req PATCH "$S/Users/$ADA" -H 'Content-Type: application/json' -H 'If-Match: W/"0000000000000000"' \
	--data-binary '{"Operations":[{"op":"replace","path":"title","value":"x"}]}'
expect_status 412
req GET "$S/Users/$ADA" -H "If-None-Match: $V"
expect_status 304
req PATCH "$S/Users/$ADA" -H 'Content-Type: application/json' -H "If-Match: $V" \
	--data-binary '{"Operations":[{"op":"replace","path":"title","value":"Countess"}]}'
expect_status 204

t "Okta PUTs the whole user; the API sees it"
scim PUT "/Users/$ADA" '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"'"$ADA"'","userName":"ada@acme.example",
 "externalId":"E100","name":{"givenName":"Ada","familyName":"King"},"emails":[{"primary":true,"value":"ada@acme.example","type":"work"}],"active":true}'
expect_status 200
expect_jq "familyName" .name.familyName King
req GET /v1/members/E100
expect_jq "API" '[.email, .lastName, .jobTitle] | join(",")' "ada@acme.example,King,"

t "sorting and paging are stable"
for i in 3 1 2; do scim POST /Users "{\"userName\":\"p$i@acme.example\",\"externalId\":\"P$i\"}"; done
scim GET "/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=2&attributes=userName"
expect_jq "page" '[.Resources[].userName] | join(",")' "p2@acme.example,p1@acme.example"
expect_jq "total" .totalResults 4
expect_jq "only asked attributes and id" '.Resources[0] | keys | join(",")' "id,schemas,userName"

t "startIndex and count are integers in decimal digits: a sign '+', a space, a fraction or an overflow is 400 invalidValue"
for q in 'startIndex=%2B2' 'startIndex=%202' 'count=2abc' 'count=1.5' 'count=0x2' 'startIndex=99999999999999999999'; do
	scim GET "/Users?$q"
	expect_status 400
	expect_jq "$q: invalidValue" .scimType invalidValue
done
scim GET "/Users?startIndex=-3&count=-2"
expect_status 200
expect_jq "below 1 is 1, below 0 is 0 (RFC 7644)" '[.startIndex, (.Resources | length)] | join(",")' "1,0"

t "Bulk: a POST referenced by bulkId, failOnErrors"
scim POST /Bulk '{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1,"Operations":[
 {"method":"POST","path":"/Users","bulkId":"u1","data":{"userName":"bulk@acme.example","externalId":"B1"}},
 {"method":"POST","path":"/Groups","bulkId":"g1","data":{"displayName":"Bulk team","externalId":"T-BULK","members":[{"value":"bulkId:u1"}]}},
 {"method":"DELETE","path":"/Users/nope"},
 {"method":"DELETE","path":"/Users/nope2"}]}'
expect_status 200
expect_jq "statuses" '[.Operations[].status] | join(",")' "201,201,404"
req GET /v1/teams/T-BULK
expect_jq "member by bulkId" '.members | join(",")' B1

t "a member made by a sync is the member SCIM sees"
req_json PATCH /v1/settings '{"provisioning":{"method":"api"}}'
O=$TMP/org
fx_new "$O"
fx_member "$O" S1 sam@acme.example Sam Synced
sync_csv "$O" "?mode=partial"
req_json PATCH /v1/settings '{"provisioning":{"method":"scim"}}'
scim GET "/Users?filter=externalId%20eq%20%22S1%22"
expect_jq "found" '.Resources[0].userName' sam@acme.example
expect_jq "names" '.Resources[0].name.familyName' Synced

t "DELETE removes the member; GET then 404"
scim DELETE "/Users/$ADA"
expect_status 204
scim GET "/Users/$ADA"
expect_status 404
req GET /v1/members/E100
expect_status 404

t "each SCIM write is in the audit trail with its actor"
req GET "/v1/audit?limit=500"
expect_true "user create" '[.items[] | select(.action == "scim.user.create")] | length >= 5'
expect_true "role grant and revoke" '[.items[] | .action] | index("scim.role.grant") and index("scim.role.revoke")'
expect_true "group update" '[.items[] | select(.action == "scim.group.update")] | length >= 1'
expect_true "user delete with the old value" '.items[] | select(.action == "scim.user.delete") | .old.userName == "ada@acme.example"'
expect_true "actor is the key" '.items[0].actor | startswith("key:")'

t "discovery: ServiceProviderConfig (both spellings), Schemas, ResourceTypes"
scim GET /ServiceProviderConfig
expect_jq "patch" .patch.supported true
expect_jq "bulk" .bulk.supported true
scim GET /serviceConfiguration
expect_status 200
scim GET /Schemas
expect_true "User Account" '.Resources[] | select(.id == "urn:ietf:params:scim:schemas:core:2.0:User") | .description == "User Account"'
scim GET /ResourceTypes/Group
expect_jq "endpoint" .endpoint /Groups

finish
