// What policy aspects read from the constructs, the same on every platform. Fields that a
// later change to a resource could break are getters over that resource's own inputs, so a
// check sees what will be synthesized, without resolving tokens.

export interface VmFacts {
  readonly kind: 'vm';
  readonly name: string;
  readonly stage: string;
  readonly vmid: number;
  readonly tags: string[];
  /** Data disks attached from data VMs: `<owner>-data/<label>`. */
  attached: string[];
}

export interface DataVmFacts {
  readonly kind: 'data';
  readonly name: string;
  readonly stage: string;
  readonly vmid: number;
  readonly tags: string[];
  /** Protected against deletion (Proxmox protection flag and/or Terraform prevent_destroy). */
  protected: boolean;
  /** Set when built with allowDataDestroy: the protection was lifted on purpose. */
  destroyAllowed: boolean;
}

export const FACTS = Symbol.for('homeprod.facts');

export interface HasFacts {
  readonly [FACTS]: VmFacts | DataVmFacts;
}

export function factsOf(node: unknown): VmFacts | DataVmFacts | undefined {
  return typeof node === 'object' && node !== null && FACTS in node ? (node as HasFacts)[FACTS] : undefined;
}
