/** Thin clients for the original API, as a user's code would call it. */

export interface Created {
  status: number;
  body: { task_id: string; status: string };
}

export async function createTask(baseUrl: string, task: string): Promise<Created> {
  const res = await fetch(`${baseUrl}/task/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ task }),
  });
  return { status: res.status, body: (await res.json()) as Created['body'] };
}

export interface TaskResult {
  Task: string;
  CreatedAt: string;
  Task_identification: string;
  Result: string;
  Status: 'in progress' | 'completed' | 'failed';
}

export async function checkResult(
  baseUrl: string,
  id: string,
): Promise<{ status: number; body: TaskResult }> {
  const res = await fetch(`${baseUrl}/task/check-result?task_id=${encodeURIComponent(id)}`);
  return { status: res.status, body: (await res.json()) as TaskResult };
}
