import { Suspense } from "react";
import LoginForm from "./LoginForm";

export const metadata = { title: "Log in · Moodle DinD" };

export default function LoginPage() {
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="w-full max-w-sm">
        <div className="mb-6 text-center">
          <div className="mx-auto mb-3 flex h-12 w-12 items-center justify-center rounded-2xl bg-indigo-600 text-xl font-bold text-white">M</div>
          <h1 className="text-xl font-semibold">Moodle DinD</h1>
          <p className="text-sm text-slate-500 dark:text-slate-400">Many Moodle sites, one machine.</p>
        </div>
        <Suspense>
          <LoginForm />
        </Suspense>
      </div>
    </main>
  );
}
