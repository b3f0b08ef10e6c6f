// The platform stack a project stack reads, and the organization that name may carry: a
// self-managed backend (file://, gs://, s3://, azblob://) has exactly one organization, spelled
// `organization` (pulumi pkg/backend/diy/store.go ParseReference: any other refuses with
// "organization name must be 'organization'", naming neither the key nor the fix).

/** The one organization of a self-managed backend, and what it reports as the stack's. */
export const SELF_MANAGED_ORGANIZATION = "organization";

/** The platformStack forms each backend reads, as the README and the messages state them. */
export const PLATFORM_STACK_FORMS = `<org>/<project>/<stack>: on Pulumi Cloud your organization (acme/warmstart/platform), on a self-managed backend the literal ${SELF_MANAGED_ORGANIZATION} (${SELF_MANAGED_ORGANIZATION}/warmstart/platform)`;

/**
 * Problems with `platformStack` given the organization the running stack is in: on a
 * self-managed backend every stack is in `organization`, so a reference to another cannot resolve.
 */
export function platformStackProblems(platformStack: string | undefined, organization: string): string[] {
    if (platformStack === undefined || organization !== SELF_MANAGED_ORGANIZATION) return [];
    const [named, project, stack] = platformStack.split("/");
    if (named === SELF_MANAGED_ORGANIZATION) return [];
    return [`warmstart:platformStack: names the organization '${named}', but this stack is on a self-managed backend, whose only organization is '${SELF_MANAGED_ORGANIZATION}': set ${SELF_MANAGED_ORGANIZATION}/${project}/${stack} (value ${JSON.stringify(platformStack)})`];
}
