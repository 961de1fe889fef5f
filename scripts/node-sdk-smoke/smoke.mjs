// Runs the official WorkOS Node SDK (v11) against a running workos-authz emulator and asserts
// what every call returns. Stops with a non-zero exit code at the first failed assertion.
//
//   EMULATOR_PORT=8787 node smoke.mjs      (see README.md)
//
// Every run uses fresh slugs, external ids and organizations, so it can run repeatedly
// against the same emulator.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  ConflictException,
  NotFoundException,
  UnauthorizedException,
  UnprocessableEntityException,
  WorkOS,
} from '@workos-inc/node';

const host = process.env.EMULATOR_HOST ?? '127.0.0.1';
const port = Number(process.env.EMULATOR_PORT ?? 8787);
const options = { apiHostname: host, port, https: false, maxRetries: 0 };
const workos = new WorkOS('sk_test_123', options);
const authz = workos.authorization;
const users = workos.userManagement;

const sfx = randomBytes(4).toString('hex');
let current = '(setup)';
let passed = 0;

// SMOKE_KEEP_GOING=1 reports every failed step instead of stopping at the first (later steps
// may then fail only because an earlier one did); the exit code is non-zero either way.
const keepGoing = process.env.SMOKE_KEEP_GOING === '1';
let failed = 0;

async function step(name, body) {
  current = name;
  try {
    await body();
  } catch (error) {
    if (!keepGoing) throw error;
    failed += 1;
    console.log(`FAIL ${name}: ${error?.name}: ${error?.message}`);
    return;
  }
  passed += 1;
  console.log(`ok   ${name}`);
}

async function rejects(promise, Exception, status) {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof Exception,
      `expected ${Exception.name}, got ${error?.name}: ${error?.message}`,
    );
    assert.equal(error.status, status);
    return error;
  }
  assert.fail(`expected ${Exception.name}, but the call succeeded`);
}

const sorted = (items) => [...items].sort();
const slugs = (items) => sorted(items.map((item) => item.slug));
const ids = (items) => sorted(items.map((item) => item.id));

function isTimestamp(value, what) {
  assert.equal(typeof value, 'string', `${what} is a string`);
  assert.ok(!Number.isNaN(Date.parse(value)), `${what} parses as a date: ${value}`);
}

// ----- permissions ---------------------------------------------------------------------------

const READ = `doc-${sfx}:read`;
const WRITE = `doc-${sfx}:write`;
const SHARE = `doc-${sfx}:share`;
const TEMP = `tmp-${sfx}:x`;

async function permissions() {
  await step('createPermission', async () => {
    const permission = await authz.createPermission({
      slug: READ,
      name: 'Read',
      description: 'Read a document',
      resourceTypeSlug: 'document',
    });
    assert.equal(permission.object, 'permission');
    assert.match(permission.id, /^perm_/);
    assert.equal(permission.slug, READ);
    assert.equal(permission.name, 'Read');
    assert.equal(permission.description, 'Read a document');
    assert.equal(permission.resourceTypeSlug, 'document');
    assert.equal(permission.system, false);
    isTimestamp(permission.createdAt, 'createdAt');
    isTimestamp(permission.updatedAt, 'updatedAt');
    for (const slug of [WRITE, SHARE, TEMP]) {
      await authz.createPermission({ slug, name: slug, resourceTypeSlug: 'document' });
    }
  });

  await step('createPermission duplicate -> ConflictException', async () => {
    await rejects(authz.createPermission({ slug: READ, name: 'again' }), ConflictException, 409);
  });

  await step('createPermission invalid slug -> UnprocessableEntityException', async () => {
    const error = await rejects(
      authz.createPermission({ slug: 'no spaces allowed', name: 'bad' }),
      UnprocessableEntityException,
      422,
    );
    assert.equal(error.code, 'invalid_slug');
    assert.match(error.message, /invalid_slug/, 'the field errors reach the message');
  });

  await step('createPermission malformed body -> UnprocessableEntityException with a message', async () => {
    const error = await rejects(
      authz.createPermission({ slug: 42, name: 'bad' }),
      UnprocessableEntityException,
      422,
    );
    assert.match(error.message, /expected a string/, `the message says what is wrong: ${error.message}`);
  });

  await step('getPermission (slug with ":" in the path)', async () => {
    const permission = await authz.getPermission(READ);
    assert.equal(permission.slug, READ);
    assert.equal(permission.resourceTypeSlug, 'document');
  });

  await step('getPermission unknown -> NotFoundException', async () => {
    await rejects(authz.getPermission(`missing-${sfx}`), NotFoundException, 404);
  });

  await step('updatePermission', async () => {
    const permission = await authz.updatePermission(READ, {
      name: 'Read documents',
      description: 'Open and read a document',
    });
    assert.equal(permission.slug, READ);
    assert.equal(permission.name, 'Read documents');
    assert.equal(permission.description, 'Open and read a document');
    assert.equal((await authz.getPermission(READ)).name, 'Read documents');
  });

  await step('listPermissions (first page, autoPagination)', async () => {
    const page = await authz.listPermissions();
    assert.equal(page.object, 'list');
    assert.ok(page.data.length <= 10, 'default limit is 10');
    assert.ok('after' in page.listMetadata && 'before' in page.listMetadata);
    const all = await page.autoPagination();
    const mine = all.filter((p) => p.slug.endsWith(`-${sfx}:read`) || p.slug.includes(sfx));
    assert.deepEqual(slugs(mine), sorted([READ, WRITE, SHARE, TEMP]));
    assert.equal(new Set(all.map((p) => p.id)).size, all.length, 'no permission twice');
  });

  await step('listPermissions (limit 1, walking listMetadata.after)', async () => {
    const seen = [];
    let after;
    for (;;) {
      const page = await authz.listPermissions({ limit: 1, after });
      assert.ok(page.data.length <= 1);
      seen.push(...page.data.map((p) => p.id));
      after = page.listMetadata.after;
      if (!after) break;
    }
    const all = await (await authz.listPermissions()).autoPagination();
    assert.deepEqual(sorted(seen), ids(all), 'the walk sees every permission once');
  });

  await step('deletePermission', async () => {
    await authz.deletePermission(TEMP);
    await rejects(authz.getPermission(TEMP), NotFoundException, 404);
  });
}

// ----- environment roles ---------------------------------------------------------------------

const VIEWER = `viewer-${sfx}`;
const EDITOR = `editor-${sfx}`;

async function environmentRoles() {
  await step('createEnvironmentRole (no permissions)', async () => {
    const role = await authz.createEnvironmentRole({
      slug: VIEWER,
      name: 'Viewer',
      description: 'Reads documents',
      resourceTypeSlug: 'document',
    });
    assert.equal(role.object, 'role');
    assert.match(role.id, /^role_/);
    assert.equal(role.slug, VIEWER);
    assert.equal(role.type, 'EnvironmentRole');
    assert.equal(role.resourceTypeSlug, 'document');
    assert.deepEqual(role.permissions, []);
    isTimestamp(role.createdAt, 'createdAt');
    await authz.createEnvironmentRole({ slug: EDITOR, name: 'Editor', resourceTypeSlug: 'document' });
  });

  await step('setEnvironmentRolePermissions', async () => {
    const role = await authz.setEnvironmentRolePermissions(VIEWER, { permissions: [READ] });
    assert.equal(role.slug, VIEWER);
    assert.deepEqual(role.permissions, [READ]);
    const editor = await authz.setEnvironmentRolePermissions(EDITOR, { permissions: [READ] });
    assert.deepEqual(editor.permissions, [READ]);
  });

  await step('addEnvironmentRolePermission', async () => {
    const role = await authz.addEnvironmentRolePermission(EDITOR, { permissionSlug: WRITE });
    assert.deepEqual(sorted(role.permissions), sorted([READ, WRITE]));
    const again = await authz.addEnvironmentRolePermission(EDITOR, { permissionSlug: WRITE });
    assert.deepEqual(sorted(again.permissions), sorted([READ, WRITE]), 'adding twice is a no-op');
  });

  await step('listEnvironmentRoles', async () => {
    const list = await authz.listEnvironmentRoles();
    assert.equal(list.object, 'list');
    const found = list.data.map((r) => r.slug);
    for (const slug of ['member', VIEWER, EDITOR]) assert.ok(found.includes(slug), `${slug} listed`);
    assert.ok(found.indexOf(VIEWER) < found.indexOf(EDITOR), 'priority order: newest last');
  });

  await step('getEnvironmentRole', async () => {
    const role = await authz.getEnvironmentRole(EDITOR);
    assert.equal(role.slug, EDITOR);
    assert.deepEqual(sorted(role.permissions), sorted([READ, WRITE]));
  });

  await step('getEnvironmentRole unknown -> NotFoundException', async () => {
    await rejects(authz.getEnvironmentRole(`nobody-${sfx}`), NotFoundException, 404);
  });

  await step('updateEnvironmentRole', async () => {
    const role = await authz.updateEnvironmentRole(VIEWER, {
      name: 'Document viewer',
      description: 'Reads every document',
    });
    assert.equal(role.slug, VIEWER);
    assert.equal(role.name, 'Document viewer');
    assert.equal(role.description, 'Reads every document');
    assert.deepEqual(role.permissions, [READ]);
  });
}

// ----- organizations, memberships, organization roles -----------------------------------------

const ctx = {};

async function organizations() {
  await step('organizations.createOrganization', async () => {
    const organization = await workos.organizations.createOrganization({ name: `Acme ${sfx}` });
    assert.equal(organization.object, 'organization');
    assert.match(organization.id, /^org_/);
    assert.equal(organization.name, `Acme ${sfx}`);
    assert.deepEqual(organization.domains, []);
    ctx.org = organization.id;
    const other = await workos.organizations.createOrganization({ name: `Other ${sfx}` });
    ctx.otherOrg = other.id;
  });

  await step('organizations.getOrganization', async () => {
    const organization = await workos.organizations.getOrganization(ctx.org);
    assert.equal(organization.id, ctx.org);
    assert.deepEqual(organization.domains, []);
  });
}

async function memberships() {
  await step('userManagement.createOrganizationMembership', async () => {
    const alice = await users.createOrganizationMembership({
      organizationId: ctx.org,
      userId: `user_alice${sfx}`,
    });
    assert.equal(alice.object, 'organization_membership');
    assert.match(alice.id, /^om_/);
    assert.equal(alice.organizationId, ctx.org);
    assert.equal(alice.userId, `user_alice${sfx}`);
    assert.equal(alice.status, 'active');
    assert.equal(alice.role.slug, 'member', 'no role means the default role');
    assert.equal(alice.organizationName, `Acme ${sfx}`);
    ctx.alice = alice.id;
    const bob = await users.createOrganizationMembership({
      organizationId: ctx.org,
      userId: `user_bob${sfx}`,
      roleSlug: 'member',
    });
    assert.equal(bob.role.slug, 'member');
    ctx.bob = bob.id;
    const outsider = await users.createOrganizationMembership({
      organizationId: ctx.otherOrg,
      userId: `user_alice${sfx}`,
    });
    ctx.outsider = outsider.id;
  });

  await step('userManagement.getOrganizationMembership', async () => {
    const alice = await users.getOrganizationMembership(ctx.alice);
    assert.equal(alice.id, ctx.alice);
    assert.equal(alice.role.slug, 'member');
  });

  await step('userManagement.listOrganizationMemberships', async () => {
    const byOrg = await users.listOrganizationMemberships({
      organizationId: ctx.org,
      statuses: ['active'],
    });
    assert.deepEqual(ids(byOrg.data), sorted([ctx.alice, ctx.bob]));
    const byUser = await users.listOrganizationMemberships({
      userId: `user_alice${sfx}`,
      organizationId: ctx.org,
      statuses: ['active', 'pending'],
    });
    assert.deepEqual(ids(byUser.data), [ctx.alice]);
    const everywhere = await users.listOrganizationMemberships({ userId: `user_alice${sfx}` });
    assert.deepEqual(ids(everywhere.data), sorted([ctx.alice, ctx.outsider]));
  });
}

const AUDITOR = 'org-auditor';

async function organizationRoles() {
  await step('createOrganizationRole (with and without slug)', async () => {
    const role = await authz.createOrganizationRole(ctx.org, {
      slug: AUDITOR,
      name: 'Auditor',
      description: 'Audits',
    });
    assert.equal(role.object, 'role');
    assert.equal(role.slug, AUDITOR);
    assert.equal(role.type, 'OrganizationRole');
    assert.deepEqual(role.permissions, []);
    const generated = await authz.createOrganizationRole(ctx.org, { name: 'Temp Role' });
    assert.ok(generated.slug, 'a slug is generated when none is sent');
    ctx.tempRole = generated.slug;
  });

  await step('listOrganizationRoles', async () => {
    const list = await authz.listOrganizationRoles(ctx.org);
    assert.equal(list.object, 'list');
    const found = list.data.map((r) => r.slug);
    for (const slug of ['member', VIEWER, AUDITOR, ctx.tempRole]) {
      assert.ok(found.includes(slug), `${slug} listed`);
    }
    const auditor = list.data.find((r) => r.slug === AUDITOR);
    assert.equal(auditor.type, 'OrganizationRole');
    assert.equal(list.data.find((r) => r.slug === VIEWER).type, 'EnvironmentRole');
  });

  await step('getOrganizationRole', async () => {
    const role = await authz.getOrganizationRole(ctx.org, AUDITOR);
    assert.equal(role.slug, AUDITOR);
    assert.equal(role.type, 'OrganizationRole');
  });

  await step('updateOrganizationRole', async () => {
    const role = await authz.updateOrganizationRole(ctx.org, AUDITOR, {
      name: 'Document auditor',
      description: 'Reads everything',
    });
    assert.equal(role.name, 'Document auditor');
    assert.equal(role.description, 'Reads everything');
  });

  await step('setOrganizationRolePermissions', async () => {
    const role = await authz.setOrganizationRolePermissions(ctx.org, AUDITOR, {
      permissions: [READ],
    });
    assert.deepEqual(role.permissions, [READ]);
  });

  await step('addOrganizationRolePermission', async () => {
    const role = await authz.addOrganizationRolePermission(ctx.org, AUDITOR, {
      permissionSlug: SHARE,
    });
    assert.deepEqual(sorted(role.permissions), sorted([READ, SHARE]));
  });

  await step('removeOrganizationRolePermission', async () => {
    const result = await authz.removeOrganizationRolePermission(ctx.org, AUDITOR, {
      permissionSlug: SHARE,
    });
    assert.equal(result, undefined);
    assert.deepEqual((await authz.getOrganizationRole(ctx.org, AUDITOR)).permissions, [READ]);
  });

  await step('deleteOrganizationRole', async () => {
    await authz.deleteOrganizationRole(ctx.org, ctx.tempRole);
    await rejects(authz.getOrganizationRole(ctx.org, ctx.tempRole), NotFoundException, 404);
  });

  await step('createOrganizationMembership with an organization role', async () => {
    const carol = await users.createOrganizationMembership({
      organizationId: ctx.org,
      userId: `user_carol${sfx}`,
      roleSlug: AUDITOR,
    });
    assert.equal(carol.role.slug, AUDITOR);
    ctx.carol = carol.id;
  });
}

// ----- resources ----------------------------------------------------------------------------

async function resources() {
  await step('createResource (default parent: the organization)', async () => {
    const folder = await authz.createResource({
      organizationId: ctx.org,
      resourceTypeSlug: 'folder',
      externalId: 'f1',
      name: 'Folder 1',
    });
    assert.equal(folder.object, 'authorization_resource');
    assert.match(folder.id, /^authz_resource_/);
    assert.equal(folder.externalId, 'f1');
    assert.equal(folder.resourceTypeSlug, 'folder');
    assert.equal(folder.organizationId, ctx.org);
    assert.ok(folder.parentResourceId, 'the parent is the organization root');
    isTimestamp(folder.createdAt, 'createdAt');
    ctx.f1 = folder;
  });

  await step('createResource (parent by id)', async () => {
    const doc = await authz.createResource({
      organizationId: ctx.org,
      resourceTypeSlug: 'document',
      externalId: 'd1',
      name: 'Doc 1',
      description: 'first',
      parentResourceId: ctx.f1.id,
    });
    assert.equal(doc.parentResourceId, ctx.f1.id);
    assert.equal(doc.description, 'first');
    ctx.d1 = doc;
  });

  await step('createResource (parent by external id)', async () => {
    const doc = await authz.createResource({
      organizationId: ctx.org,
      resourceTypeSlug: 'document',
      externalId: 'd2',
      name: 'Doc 2',
      parentResourceExternalId: 'f1',
      parentResourceTypeSlug: 'folder',
    });
    assert.equal(doc.parentResourceId, ctx.f1.id);
    ctx.d2 = doc;
    ctx.f2 = await authz.createResource({
      organizationId: ctx.org,
      resourceTypeSlug: 'folder',
      externalId: 'f2',
      name: 'Folder 2',
    });
    ctx.d3 = await authz.createResource({
      organizationId: ctx.org,
      resourceTypeSlug: 'document',
      externalId: 'd3',
      name: 'Doc 3',
      parentResourceId: ctx.f2.id,
    });
  });

  await step('createResource duplicate external id -> ConflictException', async () => {
    await rejects(
      authz.createResource({
        organizationId: ctx.org,
        resourceTypeSlug: 'document',
        externalId: 'd1',
        name: 'again',
      }),
      ConflictException,
      409,
    );
  });

  await step('getResource', async () => {
    const doc = await authz.getResource(ctx.d1.id);
    assert.deepEqual(doc, ctx.d1);
  });

  await step('getResourceByExternalId', async () => {
    const doc = await authz.getResourceByExternalId({
      organizationId: ctx.org,
      resourceTypeSlug: 'document',
      externalId: 'd2',
    });
    assert.equal(doc.id, ctx.d2.id);
  });

  await step('listResources (organization + type)', async () => {
    const list = await authz.listResources({ organizationId: ctx.org, resourceTypeSlug: 'document' });
    assert.deepEqual(ids(list.data), ids([ctx.d1, ctx.d2, ctx.d3]));
    const all = await list.autoPagination();
    assert.deepEqual(ids(all), ids([ctx.d1, ctx.d2, ctx.d3]));
  });

  await step('listResources (parentResourceId)', async () => {
    const list = await authz.listResources({ parentResourceId: ctx.f1.id });
    assert.deepEqual(ids(list.data), ids([ctx.d1, ctx.d2]));
  });

  await step('listResources (parent by external id)', async () => {
    const list = await authz.listResources({
      organizationId: ctx.org,
      parentResourceTypeSlug: 'folder',
      parentExternalId: 'f1',
    });
    assert.deepEqual(ids(list.data), ids([ctx.d1, ctx.d2]));
  });

  await step('listResources (limit 1, order asc, walking after)', async () => {
    const seen = [];
    let after;
    for (;;) {
      const page = await authz.listResources({
        organizationId: ctx.org,
        limit: 1,
        order: 'asc',
        after,
      });
      seen.push(...page.data.map((r) => r.id));
      after = page.listMetadata.after;
      if (!after) break;
    }
    const all = await (await authz.listResources({ organizationId: ctx.org })).autoPagination();
    assert.deepEqual(sorted(seen), ids(all));
    assert.equal(new Set(seen).size, seen.length, 'no resource twice');
  });

  await step('listResources autoPagination across pages of 100, and before', async () => {
    const organization = await workos.organizations.createOrganization({ name: `Paging ${sfx}` });
    const made = [];
    for (let i = 0; i < 105; i += 1) {
      const item = await authz.createResource({
        organizationId: organization.id,
        resourceTypeSlug: 'item',
        externalId: `item-${i}`,
        name: `Item ${i}`,
      });
      made.push(item.id);
    }
    const list = await authz.listResources({ organizationId: organization.id, resourceTypeSlug: 'item' });
    assert.equal(list.data.length, 10, 'default page size');
    assert.equal(list.data[0].id, made[104], 'newest first by default');
    const all = await list.autoPagination();
    assert.equal(all.length, 105);
    assert.deepEqual(sorted(all.map((r) => r.id)), sorted(made), 'every item once');
    const middle = await authz.listResources({
      organizationId: organization.id,
      resourceTypeSlug: 'item',
      limit: 10,
      order: 'asc',
      after: made[49],
    });
    assert.equal(middle.data[0].id, made[50]);
    const back = await authz.listResources({
      organizationId: organization.id,
      resourceTypeSlug: 'item',
      limit: 10,
      order: 'asc',
      before: middle.listMetadata.before,
    });
    assert.deepEqual(back.data.map((r) => r.id), made.slice(40, 50));
  });

  await step('updateResource', async () => {
    const doc = await authz.updateResource({
      resourceId: ctx.d1.id,
      name: 'Doc One',
      description: 'the first document',
    });
    assert.equal(doc.name, 'Doc One');
    assert.equal(doc.description, 'the first document');
    assert.equal(doc.externalId, 'd1');
  });

  await step('updateResourceByExternalId', async () => {
    const doc = await authz.updateResourceByExternalId({
      organizationId: ctx.org,
      resourceTypeSlug: 'document',
      externalId: 'd2',
      name: 'Doc Two',
    });
    assert.equal(doc.id, ctx.d2.id);
    assert.equal(doc.name, 'Doc Two');
  });

  await step('update* with description: null removes the description', async () => {
    const doc = await authz.updateResource({ resourceId: ctx.d1.id, description: null });
    assert.equal(doc.description, null);
    assert.equal(doc.name, 'Doc One', 'the name is kept');
    const permission = await authz.updatePermission(SHARE, { description: 'temporary' });
    assert.equal(permission.description, 'temporary');
    assert.equal((await authz.updatePermission(SHARE, { description: null })).description, null);
    const role = await authz.updateEnvironmentRole(EDITOR, { description: null });
    assert.equal(role.description, null);
    const auditor = await authz.updateOrganizationRole(ctx.org, AUDITOR, { description: null });
    assert.equal(auditor.description, null);
    await authz.updateOrganizationRole(ctx.org, AUDITOR, { description: 'Reads everything' });
  });

  await step('deleteResource with children, no cascade -> refused', async () => {
    try {
      await authz.deleteResource({ resourceId: ctx.f2.id });
      assert.fail('deleting a resource with children must be refused');
    } catch (error) {
      assert.ok([409, 422].includes(error.status), `refused with ${error.status}: ${error.message}`);
    }
    assert.equal((await authz.getResource(ctx.d3.id)).id, ctx.d3.id);
  });

  await step('deleteResource (cascadeDelete: true)', async () => {
    await authz.deleteResource({ resourceId: ctx.f2.id, cascadeDelete: true });
    await rejects(authz.getResource(ctx.f2.id), NotFoundException, 404);
    await rejects(authz.getResource(ctx.d3.id), NotFoundException, 404);
  });

  await step('deleteResourceByExternalId', async () => {
    const temp = await authz.createResource({
      organizationId: ctx.org,
      resourceTypeSlug: 'folder',
      externalId: 'temp',
      name: 'Temp',
    });
    await authz.deleteResourceByExternalId({
      organizationId: ctx.org,
      resourceTypeSlug: 'folder',
      externalId: 'temp',
      cascadeDelete: false,
    });
    await rejects(authz.getResource(temp.id), NotFoundException, 404);
  });
}

// ----- role assignments, checks and queries ---------------------------------------------------

async function assignments() {
  await step('assignRole (by resource id)', async () => {
    const assignment = await authz.assignRole({
      organizationMembershipId: ctx.alice,
      roleSlug: VIEWER,
      resourceId: ctx.f1.id,
    });
    assert.equal(assignment.object, 'role_assignment');
    assert.equal(assignment.organizationMembershipId, ctx.alice);
    assert.equal(assignment.role.slug, VIEWER);
    assert.deepEqual(assignment.resource, {
      id: ctx.f1.id,
      externalId: 'f1',
      resourceTypeSlug: 'folder',
    });
    assert.equal(typeof assignment.source.type, 'string');
    isTimestamp(assignment.createdAt, 'createdAt');
    ctx.aliceAssignment = assignment;
  });

  await step('assignRole (by external id)', async () => {
    const assignment = await authz.assignRole({
      organizationMembershipId: ctx.bob,
      roleSlug: EDITOR,
      resourceExternalId: 'd1',
      resourceTypeSlug: 'document',
    });
    assert.equal(assignment.resource.id, ctx.d1.id);
    assert.equal(assignment.role.slug, EDITOR);
  });

  await step('listRoleAssignments', async () => {
    const list = await authz.listRoleAssignments({ organizationMembershipId: ctx.alice });
    assert.deepEqual(ids(list.data), [ctx.aliceAssignment.id]);
    assert.equal(list.data[0].resource.externalId, 'f1');
  });

  await step('listRoleAssignments (resource filters)', async () => {
    const onF1 = await authz.listRoleAssignments({
      organizationMembershipId: ctx.alice,
      resourceId: ctx.f1.id,
    });
    assert.deepEqual(ids(onF1.data), [ctx.aliceAssignment.id]);
    const onD1 = await authz.listRoleAssignments({
      organizationMembershipId: ctx.alice,
      resourceExternalId: 'd1',
      resourceTypeSlug: 'document',
    });
    assert.deepEqual(onD1.data, [], 'filtered to assignments on d1 itself');
  });

  await step('listRoleAssignmentsForResource', async () => {
    const list = await authz.listRoleAssignmentsForResource({ resourceId: ctx.f1.id });
    assert.deepEqual(ids(list.data), [ctx.aliceAssignment.id]);
    const viewers = await authz.listRoleAssignmentsForResource({
      resourceId: ctx.f1.id,
      roleSlug: VIEWER,
    });
    assert.deepEqual(ids(viewers.data), [ctx.aliceAssignment.id]);
    const editors = await authz.listRoleAssignmentsForResource({
      resourceId: ctx.f1.id,
      roleSlug: EDITOR,
    });
    assert.deepEqual(editors.data, [], 'filtered by roleSlug');
  });

  await step('listResourceRoleAssignments (by external id)', async () => {
    const list = await authz.listResourceRoleAssignments({
      organizationId: ctx.org,
      resourceTypeSlug: 'document',
      externalId: 'd1',
    });
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0].organizationMembershipId, ctx.bob);
  });

  await step('check (by resource id)', async () => {
    const allowed = await authz.check({
      organizationMembershipId: ctx.alice,
      permissionSlug: READ,
      resourceId: ctx.d1.id,
    });
    assert.deepEqual(allowed, { authorized: true }, 'inherited from the folder');
    const denied = await authz.check({
      organizationMembershipId: ctx.alice,
      permissionSlug: WRITE,
      resourceId: ctx.d1.id,
    });
    assert.deepEqual(denied, { authorized: false });
  });

  await step('check (by external id)', async () => {
    const bob = await authz.check({
      organizationMembershipId: ctx.bob,
      permissionSlug: WRITE,
      resourceExternalId: 'd1',
      resourceTypeSlug: 'document',
    });
    assert.equal(bob.authorized, true);
    const bobOther = await authz.check({
      organizationMembershipId: ctx.bob,
      permissionSlug: WRITE,
      resourceExternalId: 'd2',
      resourceTypeSlug: 'document',
    });
    assert.equal(bobOther.authorized, false);
    const carol = await authz.check({
      organizationMembershipId: ctx.carol,
      permissionSlug: READ,
      resourceExternalId: 'd2',
      resourceTypeSlug: 'document',
    });
    assert.equal(carol.authorized, true, 'organization-level role applies everywhere');
    const outsider = await authz.check({
      organizationMembershipId: ctx.outsider,
      permissionSlug: READ,
      resourceId: ctx.d1.id,
    });
    assert.equal(outsider.authorized, false, 'another organization is never authorized');
  });

  await step('listResourcesForMembership (parent by id)', async () => {
    const list = await authz.listResourcesForMembership({
      organizationMembershipId: ctx.alice,
      permissionSlug: READ,
      parentResourceId: ctx.f1.id,
    });
    assert.deepEqual(ids(list.data), ids([ctx.d1, ctx.d2]));
    const writable = await authz.listResourcesForMembership({
      organizationMembershipId: ctx.alice,
      permissionSlug: WRITE,
      parentResourceId: ctx.f1.id,
    });
    assert.deepEqual(writable.data, []);
  });

  await step('listResourcesForMembership (parent by external id)', async () => {
    const list = await authz.listResourcesForMembership({
      organizationMembershipId: ctx.bob,
      permissionSlug: WRITE,
      parentResourceTypeSlug: 'folder',
      parentResourceExternalId: 'f1',
    });
    assert.deepEqual(ids(list.data), [ctx.d1.id]);
  });

  await step('listMembershipsForResource', async () => {
    const readers = await authz.listMembershipsForResource({
      resourceId: ctx.d1.id,
      permissionSlug: READ,
    });
    const found = ids(readers.data);
    for (const id of [ctx.alice, ctx.bob, ctx.carol]) assert.ok(found.includes(id), `${id} reads d1`);
    assert.ok(!found.includes(ctx.outsider));
    assert.equal(readers.data[0].object, 'organization_membership');
    const direct = await authz.listMembershipsForResource({
      resourceId: ctx.d1.id,
      permissionSlug: READ,
      assignment: 'direct',
    });
    assert.ok(ids(direct.data).includes(ctx.bob), 'bob is assigned on d1 itself');
    assert.ok(!ids(direct.data).includes(ctx.alice), 'alice only inherits from f1');
  });

  await step('listMembershipsForResourceByExternalId', async () => {
    const writers = await authz.listMembershipsForResourceByExternalId({
      organizationId: ctx.org,
      resourceTypeSlug: 'document',
      externalId: 'd1',
      permissionSlug: WRITE,
    });
    assert.deepEqual(ids(writers.data), [ctx.bob]);
  });

  await step('listEffectivePermissions', async () => {
    const list = await authz.listEffectivePermissions({
      organizationMembershipId: ctx.bob,
      resourceId: ctx.d1.id,
    });
    assert.deepEqual(slugs(list.data), sorted([READ, WRITE]));
    assert.equal(list.data[0].object, 'permission');
  });

  await step('listEffectivePermissionsByExternalId', async () => {
    const list = await authz.listEffectivePermissionsByExternalId({
      organizationMembershipId: ctx.alice,
      resourceTypeSlug: 'document',
      externalId: 'd2',
    });
    assert.deepEqual(slugs(list.data), [READ]);
  });

  await step('removeRole (by external id)', async () => {
    const result = await authz.removeRole({
      organizationMembershipId: ctx.bob,
      roleSlug: EDITOR,
      resourceExternalId: 'd1',
      resourceTypeSlug: 'document',
    });
    assert.equal(result, undefined);
    const after = await authz.check({
      organizationMembershipId: ctx.bob,
      permissionSlug: WRITE,
      resourceId: ctx.d1.id,
    });
    assert.equal(after.authorized, false);
  });

  await step('removeRole (by resource id)', async () => {
    await authz.assignRole({
      organizationMembershipId: ctx.bob,
      roleSlug: VIEWER,
      resourceId: ctx.d2.id,
    });
    await authz.removeRole({
      organizationMembershipId: ctx.bob,
      roleSlug: VIEWER,
      resourceId: ctx.d2.id,
    });
    const list = await authz.listRoleAssignments({ organizationMembershipId: ctx.bob });
    assert.deepEqual(list.data, []);
  });

  await step('removeRoleAssignment', async () => {
    await authz.removeRoleAssignment({
      organizationMembershipId: ctx.alice,
      roleAssignmentId: ctx.aliceAssignment.id,
    });
    const after = await authz.check({
      organizationMembershipId: ctx.alice,
      permissionSlug: READ,
      resourceId: ctx.d1.id,
    });
    assert.equal(after.authorized, false);
    const list = await authz.listRoleAssignments({ organizationMembershipId: ctx.alice });
    assert.deepEqual(list.data, []);
  });
}

// ----- membership lifecycle ------------------------------------------------------------------

async function membershipLifecycle() {
  const canRead = async () =>
    (
      await authz.check({
        organizationMembershipId: ctx.dave,
        permissionSlug: READ,
        resourceId: ctx.d1.id,
      })
    ).authorized;

  await step('userManagement.updateOrganizationMembership', async () => {
    const dave = await users.createOrganizationMembership({
      organizationId: ctx.org,
      userId: `user_dave${sfx}`,
    });
    ctx.dave = dave.id;
    assert.equal(await canRead(), false);
    const updated = await users.updateOrganizationMembership(ctx.dave, { roleSlug: AUDITOR });
    assert.equal(updated.role.slug, AUDITOR);
    assert.equal(await canRead(), true);
  });

  await step('userManagement.deactivateOrganizationMembership', async () => {
    const dave = await users.deactivateOrganizationMembership(ctx.dave);
    assert.equal(dave.status, 'inactive');
    assert.equal(await canRead(), false, 'an inactive membership is never authorized');
    const listed = await users.listOrganizationMemberships({ organizationId: ctx.org });
    assert.ok(!ids(listed.data).includes(ctx.dave), 'listed without statuses: active only');
    const inactive = await users.listOrganizationMemberships({
      organizationId: ctx.org,
      statuses: ['inactive'],
    });
    assert.deepEqual(ids(inactive.data), [ctx.dave]);
  });

  await step('userManagement.reactivateOrganizationMembership', async () => {
    const dave = await users.reactivateOrganizationMembership(ctx.dave);
    assert.equal(dave.status, 'active');
    assert.equal(await canRead(), true);
  });

  await step('createOrganizationMembership over an inactive one reactivates it', async () => {
    await users.deactivateOrganizationMembership(ctx.dave);
    const dave = await users.createOrganizationMembership({
      organizationId: ctx.org,
      userId: `user_dave${sfx}`,
      roleSlug: AUDITOR,
    });
    assert.equal(dave.id, ctx.dave, 'the same membership');
    assert.equal(dave.status, 'active');
    assert.equal(await canRead(), true);
    await rejects(
      users.createOrganizationMembership({ organizationId: ctx.org, userId: `user_dave${sfx}` }),
      ConflictException,
      409,
    );
  });

  await step('userManagement.deleteOrganizationMembership', async () => {
    await users.deleteOrganizationMembership(ctx.dave);
    await rejects(users.getOrganizationMembership(ctx.dave), NotFoundException, 404);
  });
}

// ----- transport ------------------------------------------------------------------------------

async function transport() {
  await step('a key that is not sk_... -> UnauthorizedException', async () => {
    const stranger = new WorkOS('not_a_key', options);
    await rejects(stranger.authorization.listEnvironmentRoles(), UnauthorizedException, 401);
  });

  await step('a POST repeated with its Idempotency-Key acts once', async () => {
    const body = { slug: `idem-${sfx}:x`, name: 'Idempotent' };
    const key = `smoke-${sfx}`;
    const first = await workos.post('/authorization/permissions', body, { idempotencyKey: key });
    const second = await workos.post('/authorization/permissions', body, { idempotencyKey: key });
    assert.equal(second.data.id, first.data.id);
  });
}

try {
  await permissions();
  await environmentRoles();
  await organizations();
  await memberships();
  await organizationRoles();
  await resources();
  await assignments();
  await membershipLifecycle();
  await transport();
  if (failed > 0) {
    console.error(`\n${failed} steps FAILED, ${passed} passed against http://${host}:${port}`);
    process.exit(1);
  }
  console.log(`\nall ${passed} steps passed against http://${host}:${port}`);
} catch (error) {
  console.error(`\nFAILED at step "${current}" (after ${passed} passed)`);
  console.error(error?.stack ?? error);
  if (error?.rawBody !== undefined) console.error('raw body:', error.rawBody);
  process.exit(1);
}
