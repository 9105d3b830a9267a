// Entry point of moxie's chat page (bundled by tools/build.mjs into app-<hash>.js).
import "./style.css";
import { ChatApp } from "./app";

new ChatApp().start();
