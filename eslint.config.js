import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'data/**', 'docs/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // The web dashboard's scripts run in the browser (services/aggregator/dashboard).
    files: ['services/aggregator/dashboard/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'addEventListener',
          'clearInterval',
          'document',
          'EventSource',
          'fetch',
          'FormData',
          'location',
          'removeEventListener',
          'setInterval',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
