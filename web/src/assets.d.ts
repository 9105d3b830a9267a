// esbuild bundles imported stylesheets into app-<hash>.css next to the script.
declare module "*.css";
