/**
 * The controls inside a message (its quote, links and reactions) are in the Tab order only while
 * focus is in that message: the log is one Tab stop, not one for every link and reaction in it.
 */
import { computed, inject, type ComputedRef, type InjectionKey } from 'vue';

/** Their tabindex, provided by MessageItem: -1 unless focus is in the message. */
export const innerTabindex: InjectionKey<ComputedRef<number | undefined>> = Symbol('innerTabindex');

const inTabOrder = computed((): number | undefined => undefined);

/** Outside a delivered message (in one still sending) they keep their place in the Tab order. */
export function useInnerTabindex(): ComputedRef<number | undefined> {
  return inject(innerTabindex, inTabOrder);
}
