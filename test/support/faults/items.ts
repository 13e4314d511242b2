/**
 * The catalogue item of the kill and resume tests: backend calls with undo, a directory change,
 * two parallel branches (licence, provision) after it, a notice, a last backend call. With
 * `plan: refuse` the backend refuses `provision` (400), so the request must roll back.
 */
export const KILL_ITEM = 'faults-kill';

export const killItem = (url: string): string => `id: ${KILL_ITEM}
title: Fault test item
description: Backend calls with undo, a directory change, parallel branches, a notice.
category: test
owner: { team: QA, contact: qa.owner@example.com }
responseTime: 1h
risk: low
fulfilment: automated
fields:
  - name: plan
    type: choice
    prompt: Should the backend accept the provisioning?
    options: [ { value: ok, label: Accept }, { value: refuse, label: Refuse } ]
workflow:
  - id: account
    action: http.request
    inputs: { method: POST, url: "${url}/resources", body: { name: "{{request.id}}-account" } }
    undo: { action: http.request, inputs: { method: DELETE, url: "${url}/resources/{{request.id}}-account" } }
  - id: group
    action: directory.addToGroup
    inputs: { person: "{{requester.email}}", group: "faults-{{request.ref}}" }
    undo: { action: directory.removeFromGroup, inputs: { person: "{{requester.email}}", group: "faults-{{request.ref}}" } }
  - id: licence
    needs: [group]
    action: http.request
    inputs: { method: POST, url: "${url}/resources", body: { name: "{{request.id}}-licence" } }
    undo: { action: http.request, inputs: { method: DELETE, url: "${url}/resources/{{request.id}}-licence" } }
  - id: provision
    needs: [group]
    action: http.request
    inputs: { method: POST, url: "${url}/resources", body: { name: "{{request.id}}-provision", plan: "{{fields.plan}}" } }
  - id: tell
    needs: [licence, provision]
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} provisioned as {{steps.provision.body.id}}" }
  - id: note
    action: http.request
    inputs: { method: POST, url: "${url}/resources", body: { name: "{{request.id}}-note" } }
`;
