// typescript-eslint strict, type-aware; floating promises are errors.
import tseslint from 'typescript-eslint';

const PRETENURED_CLOSURE =
  'A function literal assigned straight to a property is allocated in the old generation (V8 pretenures it) and keeps its context alive through scavenges: bind it to a const, then assign the const.';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/build/**', '**/.svelte-kit/**', '.runtime/**', 'ui/**', 'data/**', '**/*.mjs', '**/*.js'] },
  ...tseslint.configs.strict,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // V8's parser pretenures a function literal assigned straight to a property: the closure
    // is allocated in the old generation, and its context (a whole call, when it is created
    // per request) then survives every scavenge until the next mark-compact. Measured at
    // ~10 MB kept per scavenge and 20–50 ms pauses (BENCHMARKS.md, "Sixth round"). Bind the
    // function to a const first; the assignment of a variable is not pretenured.
    files: ['proxy/src/**/*.ts', 'core/src/**/*.ts', 'ingest/src/**/*.ts', 'src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'AssignmentExpression[left.type="MemberExpression"] > :matches(ArrowFunctionExpression, FunctionExpression).right',
          message: PRETENURED_CLOSURE,
        },
        {
          selector: 'AssignmentExpression[left.type="MemberExpression"] > :matches(TSAsExpression, TSSatisfiesExpression, TSNonNullExpression).right > :matches(ArrowFunctionExpression, FunctionExpression)',
          message: PRETENURED_CLOSURE,
        },
      ],
    },
  },
);
