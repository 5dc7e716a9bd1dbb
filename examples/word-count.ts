/**
 * Word count, the classic: split lines into words, key by word, keep a running count per word in
 * keyed state, and print each word's final count. Run: `npx troupe run examples/word-count.ts -p 2`
 */
import { CollectSink, type KeyedProcessFunction, type StreamExecutionEnvironment, type ValueState } from 'troupe';

const TEXT = [
  'To be, or not to be, that is the question:',
  'Whether tis nobler in the mind to suffer',
  'The slings and arrows of outrageous fortune,',
  'Or to take arms against a sea of troubles',
  'And by opposing end them. To die: to sleep;',
  'No more; and by a sleep to say we end',
  'The heart-ache and the thousand natural shocks',
  'That flesh is heir to, tis a consummation',
  'Devoutly to be wished. To die, to sleep;',
  'To sleep: perchance to dream: ay, there is the rub;',
];

/** Counts per word in keyed state; emits [word, count] each time a word is seen. */
const countWords: KeyedProcessFunction<string, string, [string, number]> = {
  processElement(word, ctx, out) {
    const state: ValueState<number> = ctx.runtime.getState({ name: 'count', defaultValue: 0 });
    const count = (state.value() ?? 0) + 1;
    state.update(count);
    out.collect([word, count]);
  },
};

export default function wordCount(env: StreamExecutionEnvironment, args: string[]): void {
  const lines = args.length > 0 ? args : TEXT;
  env
    .fromCollection(lines)
    .flatMap((line) => line.toLowerCase().split(/[^a-z']+/).filter((w) => w.length > 0))
    .name('Tokenize')
    .keyBy((word) => word)
    .process(countWords, 'Count')
    .uid('count-words')
    // every update, in order: the last line of a word is its final count
    .sinkTo(new CollectSink<[string, number]>(), 'Counts')
    .uid('counts');
}
