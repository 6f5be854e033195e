/**
 * Admission: what the server takes on before it falls over. Channels held, connections and publishers per channel,
 * and an encoding budget: each variant of each playlist being encoded costs width × height × fps output pixels a
 * second (as LiveKit budgets its egress); a publisher whose arrival would start more encoding than the budget
 * has left is refused. Refusals are a reason string (signaling closes with it) or a NagareError (the API answers
 * 503 with it).
 */
import { NagareError } from '../errors.ts';
import { hasComposite, type HlsVariant } from './channel-spec.ts';
import type { ChannelRecord } from '../store/channel-store.ts';

export interface Limits {
  maxChannels: number;
  maxConnectionsPerChannel: number;
  maxPublishersPerChannel: number;
  /** Output pixels per second. */
  transcodeBudget: number;
}

export interface AdmissionState {
  /** Channels not deleted, all tokens together. */
  activeChannels(): number;
  /** Output pixels per second being encoded now. */
  encodingCost(): number;
  /** Whether the channel's composite is being encoded now. */
  compositeRunning(channelId: string): boolean;
}

export interface RoomCounts {
  all: number;
  sendrecv: number;
  sendonly: number;
}

/** Output pixels per second of one playlist with these variants. */
export function variantsCost(variants: readonly HlsVariant[]): number {
  let cost = 0;
  for (const { video } of variants) cost += video.width * video.height * video.fps;
  return cost;
}

export class Admission {
  readonly #limits: Limits;
  readonly #state: AdmissionState;

  constructor(limits: Limits, state: AdmissionState) {
    this.#limits = limits;
    this.#state = state;
  }

  /** Throws Unavailable when the server already holds its maximum of channels. */
  checkCreate(): void {
    const { maxChannels } = this.#limits;
    if (this.#state.activeChannels() >= maxChannels) {
      throw new NagareError(
        'Unavailable',
        `this server holds its maximum of ${maxChannels} channels; delete one or try another server`,
      );
    }
  }

  /** Why a new connection with `role` may not join the channel now, or undefined when it may. */
  refuseConnection(record: ChannelRecord, role: string, counts: RoomCounts): string | undefined {
    const limits = this.#limits;
    if (counts.all >= limits.maxConnectionsPerChannel) {
      return `CHANNEL-FULL: at most ${limits.maxConnectionsPerChannel} connections per channel`;
    }
    if (role === 'recvonly') return undefined;
    if (counts.sendrecv + counts.sendonly >= limits.maxPublishersPerChannel) {
      return `TOO-MANY-PUBLISHERS: at most ${limits.maxPublishersPerChannel} publishers per channel`;
    }
    const { spec } = record;
    const cost = variantsCost(spec.hls);
    let extra = 0;
    if (spec.perPublisher === true) extra += cost;
    if (hasComposite(spec) && !this.#state.compositeRunning(record.channelId)) extra += cost;
    if (extra > 0 && this.#state.encodingCost() + extra > limits.transcodeBudget) {
      return 'TRANSCODE-BUDGET-EXCEEDED: the server encodes all it can; try later';
    }
    return undefined;
  }
}
