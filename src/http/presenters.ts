import { apiStatus, type TaskView } from '../domain/task.js';

/** The original API's answer to POST /task/create. */
export function presentCreated(taskId: string) {
  return { task_id: taskId, status: 'success' as const };
}

/** The original API's answer to GET /task/check-result: exactly these keys, in this order. */
export function presentTask(view: TaskView) {
  return {
    Task: view.task,
    CreatedAt: view.createdAt,
    Task_identification: view.id,
    Result: view.result,
    Status: apiStatus(view.state),
  };
}
