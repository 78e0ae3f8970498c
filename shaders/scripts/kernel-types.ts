/** The shape of one generated catalog entry (see generated/catalog.ts). */
export interface KernelDescriptor {
  readonly name: string;
  readonly file: string;
  readonly source: string;
  readonly overrides: { readonly [name: string]: number };
  readonly params: {
    readonly fields: { readonly [name: string]: { readonly offset: number; readonly type: 'u32' | 'i32' | 'f32' } };
    readonly byteSize: number;
  } | null;
  readonly bindings: { readonly [name: string]: { readonly binding: number; readonly kind: 'uniform' | 'storage' | 'read-only-storage' } };
  readonly usesStep: boolean;
}

/** Names of a kernel's buffer bindings, `params` excluded (the plan binds params itself). */
export type BufferBindingName<K extends KernelDescriptor> = Exclude<keyof K['bindings'] & string, 'params'>;

/** The values a dispatch must supply for a kernel's Params struct: exactly its field names. */
export type ParamValues<K extends KernelDescriptor> = K['params'] extends { readonly fields: infer F }
  ? { readonly [P in keyof F]: number }
  : Record<string, never>;

export type OverrideValues<K extends KernelDescriptor> = { readonly [P in keyof K['overrides']]?: number };
