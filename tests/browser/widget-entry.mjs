// Bundled by esbuild for the widget test: the npm package is CommonJS with
// bare imports (preact, @bytescale/sdk), so a page cannot import it directly.
import { UploadWidget } from "@bytescale/upload-widget";
window.UploadWidget = UploadWidget;
