// Site policy as aspects: each rule adds an error to the offending construct, and cdktn
// refuses to synthesize a stack with errors, listing every message.
import { Annotations, Aspects, TerraformStack, type IAspect } from 'cdktn';
import type { IConstruct } from 'constructs';
import type { Site } from '../tasks/lib/model/types';
import { factsOf, type DataVmFacts, type VmFacts } from './constructs/facts';

type Facts = VmFacts | DataVmFacts;
const DNS_LABEL = /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/** `<name>-vm` creates VM `<name>`; `<host>-data-vm` creates `<host>-data`. */
export class NamingPolicy implements IAspect {
  visit(node: IConstruct): void {
    const facts = factsOf(node);
    if (!facts) return;
    const stackId = TerraformStack.of(node).node.id;
    const problems: string[] = [];
    if (!DNS_LABEL.test(facts.name)) problems.push(`VM name "${facts.name}" is not a lowercase DNS label`);
    if (stackId !== `${facts.name}-vm`) problems.push(`stack "${stackId}" must be named "${facts.name}-vm" after the VM it creates`);
    if (facts.kind === 'data' && !facts.name.endsWith('-data')) problems.push(`data VM "${facts.name}" must be named "<host>-data"`);
    for (const p of problems) Annotations.of(node).addError(`naming: ${p}`);
  }
}

export class StageTagPolicy implements IAspect {
  visit(node: IConstruct): void {
    const facts = factsOf(node);
    if (facts && !facts.tags.includes(facts.stage)) {
      Annotations.of(node).addError(`stage tag: VM "${facts.name}" must carry the tag "${facts.stage}" (has: ${facts.tags.join(', ') || 'none'})`);
    }
  }
}

export class DataProtectionPolicy implements IAspect {
  visit(node: IConstruct): void {
    const facts = factsOf(node);
    if (facts?.kind === 'data' && !facts.destroyAllowed && !facts.protected) {
      Annotations.of(node).addError(
        `data protection: data VM "${facts.name}" must be protected (Proxmox protection and lifecycle prevent_destroy); only an explicit allowDataDestroy build may lift it`,
      );
    }
  }
}

/** One owner per data disk: two VMs writing one filesystem would corrupt it. */
export class SingleAttachmentPolicy implements IAspect {
  private readonly owners = new Map<string, string>();
  visit(node: IConstruct): void {
    const facts = factsOf(node);
    if (facts?.kind !== 'vm') return;
    for (const disk of facts.attached) {
      const owner = this.owners.get(disk);
      if (owner === undefined) this.owners.set(disk, facts.name);
      else if (owner !== facts.name) {
        Annotations.of(node).addError(`data disks: "${disk}" is attached to both "${owner}" and "${facts.name}"`);
      }
    }
  }
}

export class VmidRangePolicy implements IAspect {
  constructor(private readonly site: Site) {}
  visit(node: IConstruct): void {
    const facts = factsOf(node);
    if (!facts) return;
    const stage = this.site.stages[facts.stage as keyof Site['stages']];
    if (!stage) {
      Annotations.of(node).addError(`vmid: VM "${facts.name}" is in unknown stage "${facts.stage}"`);
      return;
    }
    const { from, to } = stage.vmidRange;
    // A data VM's VMID is "9" followed by its host's VMID.
    const [lo, hi] = facts.kind === 'data' ? [Number(`9${from}`), Number(`9${to}`)] : [from, to];
    if (!Number.isInteger(facts.vmid) || facts.vmid < lo || facts.vmid > hi) {
      Annotations.of(node).addError(`vmid: ${facts.kind === 'data' ? 'data ' : ''}VM "${facts.name}" has VMID ${facts.vmid}, outside ${stage.name}'s range ${lo}-${hi}`);
    }
  }
}

/**
 * Adds the policy to every stack under `app`. cdktn invokes aspects from each stack down, not
 * from the app, so they are attached per stack; the instances are shared, which is what lets
 * SingleAttachmentPolicy see attachments across stacks.
 */
export function applyPolicy(app: IConstruct, site: Site): void {
  const policy: IAspect[] = [
    new NamingPolicy(),
    new StageTagPolicy(),
    new DataProtectionPolicy(),
    new SingleAttachmentPolicy(),
    new VmidRangePolicy(site),
  ];
  for (const stack of app.node.children.filter((c) => TerraformStack.isStack(c))) {
    for (const aspect of policy) Aspects.of(stack).add(aspect);
  }
}
